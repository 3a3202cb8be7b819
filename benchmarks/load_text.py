"""Seconds and peak memory of loading Amazon-book-sized text features.

    OMP_NUM_THREADS=1 python benchmarks/load_text.py [--folder /tmp/irllrec-load-text]
        [--variants before after notext] [--users 11000 --items 9332 ...]

Writes (once) a synthetic dataset of the Amazon-book split's size: 11,000
users, 9,332 items, 120,464 train interactions plus one valid and one test
interaction per user, 1536-d profile and 3072-d intent vectors per user and
item (``+0.123456``-style values). Then builds the dataset in a fresh
subprocess per variant and prints the seconds of building it and the process's
peak RSS (``resource.getrusage``), also after the imports alone:

- before: RecBole's stock ``recbole.data.dataset.Dataset`` (per-cell parsing)
- after: :class:`TextFeatureDataset` for IRLLRec (every text column), plus the
  seconds of ``load_text_matrices``
- notext: :class:`TextFeatureDataset` for GraphCF (no text column: not parsed)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NAME = "textbench"
MODELS = {"before": "IRLLRec", "after": "IRLLRec", "notext": "GraphCF"}


# ------------------------------------------------------------------ the data
def _vector_bytes(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """``[rows, dim * 10 - 1]`` uint8: each row ``+0.123456 -0.654321 ...``,
    formatted with array arithmetic (np.savetxt would format value by value)."""
    values = rng.integers(-999_999, 1_000_000, size=(rows, dim), dtype=np.int32)
    chars = np.empty((rows, dim, 10), dtype=np.uint8)
    chars[..., 0] = np.where(values < 0, ord("-"), ord("+"))
    chars[..., 1], chars[..., 2], chars[..., 9] = ord("0"), ord("."), ord(" ")
    magnitude = np.abs(values)
    for k in range(6):
        chars[..., 8 - k] = magnitude % 10 + ord("0")
        magnitude //= 10
    return chars.reshape(rows, dim * 10)[:, :-1]


def _write_vectors(path: Path, header: str, ids: list[str], dims: tuple[int, int], rng, block: int = 500) -> None:
    with open(path, "wb") as f:
        f.write(header.encode())
        for start in range(0, len(ids), block):
            part = ids[start : start + block]
            profile, intent = (_vector_bytes(rng, len(part), d) for d in dims)
            f.write(b"".join(
                b"%s\t%s\t%s\t%s\n" % (raw.encode(), raw.encode(), profile[r].tobytes(), intent[r].tobytes())
                for r, raw in enumerate(part)
            ))


def write_dataset(folder: Path, users: int, items: int, inters: int, dims: tuple[int, int], seed: int = 0) -> None:
    from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    # every user and item interacts (the text files have a row for each)
    train_users = np.arange(inters) % users
    train_items = rng.permutation(np.concatenate([np.arange(items), rng.integers(0, items, inters - items)]))
    splits = {"train": (train_users, train_items)}
    for split in ("valid", "test"):
        splits[split] = (np.arange(users), rng.integers(0, items, users))
    for split, (u, i) in splits.items():
        rows = "".join(f"{a}\t{b}\n" for a, b in zip(u.tolist(), i.tolist()))
        (folder / f"{NAME}.{split}.inter").write_text("user_id:token\titem_id:token\n" + rows)
    for suffix, n in ((USER_SUFFIX, users), (ITEM_SUFFIX, items)):
        (id_p, val_p), (id_i, val_i) = FILE_LAYOUT[suffix]
        header = f"{id_p}:token\t{id_i}:token\t{val_p}:float_seq\t{val_i}:float_seq\n"
        _write_vectors(folder / f"{NAME}.{suffix}", header, [str(k) for k in range(n)], dims, rng)


def config_dict(root: Path) -> dict:
    from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX

    return {
        "data_path": str(root),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {
            "inter": ["user_id", "item_id"],
            USER_SUFFIX: [c for pair in FILE_LAYOUT[USER_SUFFIX] for c in pair],
            ITEM_SUFFIX: [c for pair in FILE_LAYOUT[ITEM_SUFFIX] for c in pair],
        },
        "additional_feat_suffix": [USER_SUFFIX, ITEM_SUFFIX],
        "alias_of_user_id": [pair[0] for pair in FILE_LAYOUT[USER_SUFFIX]],
        "alias_of_item_id": [pair[0] for pair in FILE_LAYOUT[ITEM_SUFFIX]],
        "preload_weight": {id_col: val for s in (USER_SUFFIX, ITEM_SUFFIX) for id_col, val in FILE_LAYOUT[s]},
        "normalize_all": False,
        "gpu_id": "",
        "use_gpu": False,
        "state": "ERROR",
        "show_progress": False,
    }


# ------------------------------------------------------------------ one variant
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(variant: str, root: Path) -> dict:
    from recbole.data.dataset import Dataset

    from recbole_irllrec.config import Config
    from recbole_irllrec.data import TextFeatureDataset
    from recbole_irllrec.data.text_features import load_text_matrices

    config = Config(model=MODELS[variant], dataset=NAME, config_dict=config_dict(root))
    imports_mb = _peak_mb()
    started = time.perf_counter()
    dataset = (Dataset if variant == "before" else TextFeatureDataset)(config)
    seconds = time.perf_counter() - started
    result = {"variant": variant, "model": MODELS[variant], "seconds": seconds, "imports_peak_mb": imports_mb}
    if variant == "after":
        started = time.perf_counter()
        matrices = load_text_matrices(config, dataset)
        result["matrices_seconds"] = time.perf_counter() - started
        result["text_mb"] = sum(m.numel() * m.element_size() for m in matrices.values()) / 2**20
    elif variant == "before":
        result["text_mb"] = sum(dataset.get_preload_weight(f).nbytes for f in config["preload_weight"]) / 2**20
    else:
        result["text_mb"] = dataset.text_vectors_bytes / 2**20
    result["peak_mb"] = _peak_mb()
    return result


def run_variant(variant: str, root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--child", variant, "--folder", str(root)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/irllrec-load-text"))
    parser.add_argument("--variants", nargs="+", default=["before", "after", "notext"], choices=list(MODELS))
    parser.add_argument("--users", type=int, default=11_000)
    parser.add_argument("--items", type=int, default=9_332)
    parser.add_argument("--inters", type=int, default=120_464)
    parser.add_argument("--dims", type=int, nargs=2, default=[1536, 3072], metavar=("PROFILE", "INTENT"))
    parser.add_argument("--child", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return

    spec = {"users": args.users, "items": args.items, "inters": args.inters, "dims": args.dims}
    folder = args.folder / NAME
    stamp = folder / "spec.json"
    if not stamp.is_file() or json.loads(stamp.read_text()) != spec:
        started = time.perf_counter()
        write_dataset(folder, args.users, args.items, args.inters, tuple(args.dims))
        stamp.write_text(json.dumps(spec))
        print(f"wrote {folder} in {time.perf_counter() - started:.1f} s")
    sizes = {s: (folder / f"{NAME}.{s}").stat().st_size / 2**20 for s in ("useremb", "itememb")}
    print(f"{spec}; text files {sizes['useremb']:.0f} + {sizes['itememb']:.0f} MiB")
    columns = ("variant", "model", "build s", "matrices s", "peak RSS MiB", "after imports", "text MiB")
    print(f"{columns[0]:8} {columns[1]:8} " + " ".join(f"{c:>{len(c)}}" for c in columns[2:]))
    for variant in args.variants:
        r = run_variant(variant, args.folder)
        matrices = f"{r['matrices_seconds']:.2f}" if "matrices_seconds" in r else "-"
        print(f"{variant:8} {r['model']:8} {r['seconds']:7.1f} {matrices:>10} {r['peak_mb']:12.0f} "
              f"{r['imports_peak_mb']:13.0f} {r['text_mb']:8.0f}", flush=True)


if __name__ == "__main__":
    main()
