"""Training speed and memory of IRLLRec against its backbone (issue 12), one thread.

Commands (from the repository root; OMP_NUM_THREADS=1 is set for every worker anyway)::

    # the table: ml-100k and Amazon-book, GraphCF / RLMRecCon / IRLLRec / IRLLRec-scalable
    OMP_NUM_THREADS=1 python benchmarks/speed.py --csv speed.csv
    #   (the default --full-epoch-for GraphCF RLMRecCon IRLLRec-scalable times whole epochs of
    #    those; the IRLLRec default's epoch is estimated from its batches)
    # scaling series: synthetic power-law graphs of 10k / 50k / 200k users
    OMP_NUM_THREADS=1 python benchmarks/speed.py --scaling --csv scaling.csv
    # data loading only: Amazon-book through RecBole's Dataset vs the plugin's TextFeatureDataset
    OMP_NUM_THREADS=1 python benchmarks/speed.py --load-only
    # on a GPU
    python benchmarks/speed.py --device cuda --full-epoch-for GraphCF RLMRecCon IRLLRec IRLLRec-scalable
    # smoke test
    OMP_NUM_THREADS=1 python benchmarks/speed.py --datasets ml-100k --batches 2 --full-epoch-for

What runs. Every (dataset, variant) is a fresh Python process (``--worker``), so
its peak memory is its own, with ``torch.set_num_threads(1)`` and
``OMP_NUM_THREADS=1``. A worker builds Config, dataset, loaders and model with
``recbole_irllrec.quick_start.build_data_and_model`` (``train_batch_size``
4096, ``gpu_id: ''`` unless ``--device cuda``), then trains on RecBole's
``train_data``: per batch ``model.calculate_loss``, ``backward``, one Adam step
(lr 1e-3). Variants (``benchmarks/runner.VARIANTS``):

- ``GraphCF``: the backbone alone; its dataset loads the interactions only (no text files);
- ``RLMRecCon``: default settings (the property files);
- ``IRLLRec``: default settings (no overrides): the reference's computation;
- ``IRLLRec-faithful``: the reference's computation spelt out (``runner.FAITHFUL``);
- ``IRLLRec-scalable``: ``properties/scalable.yaml`` (``runner.SCALABLE``).

Datasets: ``ml-100k`` (the embedded default, 384-d MiniLM vectors) and
``amazon-book`` (the published split with stand-in 1536-d / 3072-d vectors,
``benchmarks/bench_data.py`` and ``benchmarks/standin.py``), both prepared once
under ``--data-dir`` (default ``~/.cache/recbole_irllrec/bench``).

How a row is computed:

- ``load s``: wall time from ``Config`` to a ready model (dataset files, loaders, model init);
- ``s/batch``: median over the timed batches (``--batches``, default 5) after one
  warm-up batch; a batch's time runs from the end of the previous one, so it
  includes RecBole's batch assembly and negative sampling; on CUDA the device is
  synchronised before every clock reading;
- ``s/epoch``: for variants in ``--full-epoch-for``, one whole epoch timed after the
  warm-up batch (its ``s/batch`` is then the median over that epoch's batches);
  otherwise ``s/batch`` x batches per epoch, marked ``est``;
- ``peak GB``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the worker (host
  memory); ``GPU GB``: ``torch.cuda.max_memory_allocated`` on CUDA;
- ``x GraphCF``: s/epoch divided by GraphCF's s/epoch on the same dataset.

``--scaling [SIZES]`` (default 10000 50000 200000 users) runs a series instead of
the table: synthetic power-law graphs (``bench_data.synthetic_graph``: items =
users // 2, log-normal user activity with mean 10 interactions, at least 3;
item popularity Zipf, rank^-0.8; per user one interaction to valid, one to test)
written as ``.inter`` files only; the text variants get 1536-d / 3072-d stand-in
vectors from the dataset object's patched ``get_preload_weight`` (no 9 GB of
text). Each size runs GraphCF and IRLLRec (default) for ``--batches`` timed
batches; the table gives both s/batch and their difference, which stays flat in
N when IRLLRec's extra cost is per batch and not per node.

``--load-only`` builds the Amazon-book dataset with its text files (fresh process
each) with RecBole's ``recbole.data.dataset.Dataset`` (before) and with the
plugin's ``TextFeatureDataset`` (after), each followed by IRLLRec's
``load_text_matrices``, and with ``TextFeatureDataset`` for GraphCF (which reads
no text), and prints seconds, peak RSS and the size of the text matrices.

Working directory of the workers (RecBole's log/ and log_tensorboard/) and
checkpoint_dir: ``<data-dir>/runs/speed/``. ``--csv`` is written atomically.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_data import (  # noqa: E402
    AMAZON,
    DEFAULT_DATA_DIR,
    patch_standin_weights,
    prepare_amazon,
    prepare_synthetic,
    synth_name,
    synthetic_settings,
)

DATASETS = ["ml-100k", AMAZON]
VARIANT_NAMES = ["GraphCF", "RLMRecCon", "IRLLRec", "IRLLRec-scalable"]
SCALING_VARIANTS = ["GraphCF", "IRLLRec-scalable"]
DEFAULT_SIZES = [10000, 50000, 200000]
BATCH_SIZE = 4096
RESULT_MARK = "@@speed-result "


# ------------------------------------------------------------------ worker side
def _speed_settings(device: str, run_dir: Path) -> dict:
    return {
        "gpu_id": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if device == "cuda" else "",
        "train_batch_size": BATCH_SIZE,
        "learning_rate": 1e-3,
        "seed": 2020,
        "reproducibility": True,
        "show_progress": False,
        "state": "WARNING",
        "checkpoint_dir": str(run_dir / "saved"),
    }


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _time_training(model, train_data, device, batches: int, full_epoch: bool) -> dict:
    """One warm-up batch, then ``batches`` timed batches or one whole timed epoch."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step(interaction):
        interaction = interaction.to(device)
        optimizer.zero_grad()
        loss = model.calculate_loss(interaction)
        if isinstance(loss, tuple):
            loss = sum(loss)
        loss.backward()
        optimizer.step()

    def endless():
        while True:
            yield from train_data

    step(next(iter(train_data)))  # warm-up (its epoch is abandoned)
    sync()
    times: list[float] = []
    if full_epoch:
        start = last = time.perf_counter()
        for interaction in train_data:
            step(interaction)
            sync()
            now = time.perf_counter()
            times.append(now - last)
            last = now
        epoch_s, estimated = time.perf_counter() - start, False
    else:
        stream = endless()
        last = time.perf_counter()
        for _ in range(batches):
            step(next(stream))
            sync()
            now = time.perf_counter()
            times.append(now - last)
            last = now
        epoch_s, estimated = statistics.median(times) * len(train_data), True
    return {
        "s_per_batch": statistics.median(times),
        "timed_batches": len(times),
        "batches_per_epoch": len(train_data),
        "s_per_epoch": epoch_s,
        "epoch_estimated": estimated,
    }


def _build(spec: dict):
    """Config, model and train loader of a worker spec; returns (config, model, train_data, load_s)."""
    import recbole_irllrec.quick_start as quick_start
    from dataset_prep.embedded import prepare_embedded
    from recbole.utils import init_seed
    from recbole_irllrec.config import Config
    from runner import VARIANTS, dataset_settings

    run_dir = Path.cwd()
    model_name, overrides = VARIANTS[spec["variant"]]
    if spec["kind"] == "synth":
        dataset = synth_name(spec["users"])
        data = synthetic_settings(spec["data_dir"])
    else:
        dataset = spec["dataset"]
        data = dataset_settings(dataset, spec["data_dir"])
    config_dict = {**data, **_speed_settings(spec["device"], run_dir), **overrides, **spec.get("extra", {})}

    started = time.perf_counter()
    config = Config(model=model_name, dataset=dataset, config_dict=config_dict)
    if spec["device"] == "cuda" and config["device"].type != "cuda":
        raise RuntimeError("--device cuda, but torch sees no CUDA device")
    init_seed(config["seed"], config["reproducibility"])
    if spec["kind"] == "synth" and spec["variant"] != "GraphCF":
        folder = Path(spec["data_dir"]) / "synth" / dataset
        create_dataset = quick_start.create_dataset

        def create_with_standins(cfg):
            dataset_obj = create_dataset(cfg)  # interactions only: preload_weight is unset here
            patch_standin_weights(cfg, dataset_obj, folder)
            return dataset_obj

        quick_start.create_dataset = create_with_standins
        try:
            _, model, train_data, _, _ = quick_start.build_data_and_model(config)
        finally:
            quick_start.create_dataset = create_dataset
    else:
        _, model, train_data, _, _ = quick_start.build_data_and_model(config, prepare_embedded)
    return config, model, train_data, time.perf_counter() - started


def worker(spec: dict) -> dict:
    import warnings

    import torch

    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms
    torch.set_num_threads(1)
    if spec["kind"] == "load":
        return _load_worker(spec)
    config, model, train_data, load_s = _build(spec)
    device = config["device"]
    result = {"load_s": load_s, **_time_training(model, train_data, device, spec["batches"], spec["full_epoch"])}
    dataset = train_data._dataset
    result.update(n_users=dataset.user_num - 1, n_items=dataset.item_num - 1, train_inter=len(dataset.inter_feat))
    result["peak_gb"] = _peak_gb()
    if device.type == "cuda":
        result["gpu_gb"] = torch.cuda.max_memory_allocated(device) / 1024**3
    return result


def _load_worker(spec: dict) -> dict:
    """Build the dataset as ``spec["loader"]`` says and, for IRLLRec, its text matrices."""
    from recbole.data.dataset import Dataset
    from recbole_irllrec.config import Config
    from recbole_irllrec.data import TextFeatureDataset
    from recbole_irllrec.data.text_features import load_text_matrices
    from runner import dataset_settings

    dataset_name = spec.get("dataset", AMAZON)
    config_dict = {**dataset_settings(dataset_name, spec["data_dir"]), **_speed_settings("cpu", Path.cwd())}
    loader, model = LOADERS[spec["loader"]]
    config = Config(model=model, dataset=dataset_name, config_dict=config_dict)
    started = time.perf_counter()
    dataset = (TextFeatureDataset if loader == "TextFeatureDataset" else Dataset)(config)
    text_mb = 0.0
    if model == "IRLLRec":  # what the model asks for: float32 matrices of the four columns
        text_mb = sum(m.numel() * m.element_size() for m in load_text_matrices(config, dataset).values()) / 1e6
    return {
        "load_s": time.perf_counter() - started,
        "peak_gb": _peak_gb(),
        "text_mb": text_mb,
        "n_users": dataset.user_num - 1,
        "n_items": dataset.item_num - 1,
    }


# ------------------------------------------------------------------ parent side
def run_worker(spec: dict, run_dir: Path) -> dict:
    """Run one spec in a fresh interpreter; its result, or ``{"error": ...}``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, cwd=run_dir, env=env, stdout=subprocess.PIPE, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    sys.stdout.write(proc.stdout)
    return {"error": f"worker exited with {proc.returncode} and no result"}


def _fmt(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``rows``; ``columns`` = (key, header, format)."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append([row.get(k) if isinstance(row.get(k), str) else _fmt(row.get(k), f) for k, _, f in columns])
    widths = [max(len(str(r[c])) for r in cells) for c in range(len(columns))]
    for r in cells:
        print("  ".join(str(v).rjust(w) if c else str(v).ljust(w) for c, (v, w) in enumerate(zip(r, widths))))


def prepare_dataset(name: str, data_dir: Path) -> None:
    if name == "ml-100k":
        from dataset_prep.movielens import prepare_ml100k

        prepare_ml100k(data_dir)
    elif name == AMAZON:
        info = prepare_amazon(data_dir)
        state = "reused" if info["standin"]["reused"] else f"written in {info['standin']['seconds']} s"
        print(f"{info['folder']}: stand-in vectors {state}; {info['seconds']} s in all; files "
              + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in info["files"].items()), flush=True)
    else:
        raise SystemExit(f"unknown dataset {name!r} (choose from {DATASETS})")


def main_table(args, data_dir: Path, run_dir: Path) -> list[dict]:
    rows = []
    for dataset in args.datasets:
        prepare_dataset(dataset, data_dir)
        for variant in args.variants:
            spec = {"kind": "train", "dataset": dataset, "variant": variant, "data_dir": str(data_dir),
                    "device": args.device, "batches": args.batches, "full_epoch": variant in args.full_epoch_for,
                    "extra": args.extra}
            result = run_worker(spec, run_dir)
            rows.append({"dataset": dataset, "variant": variant, **result})
            print(f"done {dataset} {variant}: {result}", flush=True)
    for row in rows:
        base = next((r for r in rows if r["dataset"] == row["dataset"] and r["variant"] == "GraphCF"), None)
        if base and base.get("s_per_epoch") and row.get("s_per_epoch") is not None:
            row["x_graphcf"] = row["s_per_epoch"] / base["s_per_epoch"]
        if row.get("s_per_epoch") is not None:
            row["s_epoch"] = f"{row['s_per_epoch']:.2f}" + (" est" if row["epoch_estimated"] else "")
    print(f"\nthreads 1, batch {BATCH_SIZE}, device {args.device}")
    columns = [("dataset", "dataset", ""), ("variant", "variant", ""), ("load_s", "load s", ".1f"),
               ("s_per_batch", "s/batch", ".3f"), ("s_epoch", "s/epoch", ""), ("peak_gb", "peak GB", ".2f"),
               ("x_graphcf", "x GraphCF", ".1f")]
    if args.device == "cuda":
        columns.insert(6, ("gpu_gb", "GPU GB", ".2f"))
    table(rows, columns)
    for row in rows:
        if "error" in row:
            print(f"{row['dataset']} {row['variant']}: {row['error']}")
    return rows


def main_scaling(args, data_dir: Path, run_dir: Path) -> list[dict]:
    rows = []
    for users in args.scaling:
        started = time.perf_counter()
        prepare_synthetic(data_dir, users)
        print(f"synth-{users}: graph ready in {time.perf_counter() - started:.1f} s", flush=True)
        row = {"users": users}
        for variant in SCALING_VARIANTS:
            spec = {"kind": "synth", "users": users, "variant": variant, "data_dir": str(data_dir),
                    "device": args.device, "batches": args.batches, "full_epoch": False, "extra": args.extra}
            result = run_worker(spec, run_dir)
            print(f"done synth-{users} {variant}: {result}", flush=True)
            if "error" in result:
                row[f"{variant}_error"] = result["error"]
                continue
            row.update(items=result["n_items"], train_inter=result["train_inter"],
                       batches_per_epoch=result["batches_per_epoch"])
            for key in ("s_per_batch", "load_s", "peak_gb", "gpu_gb"):
                if key in result:
                    row[f"{variant}_{key}"] = result[key]
        if "GraphCF_s_per_batch" in row and "IRLLRec-scalable_s_per_batch" in row:
            row["diff_s_per_batch"] = row["IRLLRec-scalable_s_per_batch"] - row["GraphCF_s_per_batch"]
        rows.append(row)
    print(f"\nscaling: threads 1, batch {BATCH_SIZE}, device {args.device}, median of {args.batches} timed batches")
    table(rows, [("users", "users", "d"), ("items", "items", "d"), ("train_inter", "train", "d"),
                 ("GraphCF_s_per_batch", "GraphCF s/b", ".3f"),
                 ("IRLLRec-scalable_s_per_batch", "scalable s/b", ".3f"),
                 ("diff_s_per_batch", "scalable-GraphCF s/b", ".3f"), ("GraphCF_peak_gb", "GraphCF GB", ".2f"),
                 ("IRLLRec-scalable_peak_gb", "scalable GB", ".2f"),
                 ("IRLLRec-scalable_load_s", "scalable load s", ".1f")])
    return rows


# --load-only rows: (dataset class, model); the dataset keeps its text settings in every row
LOADERS = {
    "before: RecBole Dataset": ("Dataset", "IRLLRec"),
    "after: TextFeatureDataset": ("TextFeatureDataset", "IRLLRec"),
    "after, GraphCF (no text read)": ("TextFeatureDataset", "GraphCF"),
}


def main_load_only(args, data_dir: Path, run_dir: Path) -> list[dict]:
    prepare_dataset(AMAZON, data_dir)
    rows = []
    for loader in LOADERS:
        result = run_worker({"kind": "load", "loader": loader, "dataset": AMAZON, "data_dir": str(data_dir)}, run_dir)
        rows.append({"loader": loader, **result})
        print(f"done {loader}: {result}", flush=True)
    print(f"\n{AMAZON} data loading (and the model's text matrices), fresh process each")
    table(rows, [("loader", "loader", ""), ("load_s", "load s", ".1f"), ("peak_gb", "peak GB", ".2f"),
                 ("text_mb", "text MB", ".0f"), ("n_users", "users", "d"), ("n_items", "items", "d")])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=VARIANT_NAMES, choices=VARIANT_NAMES)
    parser.add_argument("--batches", type=int, default=5, help="timed batches after the warm-up (default 5)")
    parser.add_argument("--full-epoch-for", nargs="*", default=["GraphCF", "RLMRecCon", "IRLLRec-scalable"],
                        choices=VARIANT_NAMES, metavar="VARIANT",
                        help="variants whose s/epoch is a whole timed epoch (default GraphCF RLMRecCon IRLLRec; "
                        "give the flag alone for none)")
    parser.add_argument("--scaling", nargs="*", type=int, default=None, metavar="USERS",
                        help=f"run the scaling series instead (default sizes {DEFAULT_SIZES})")
    parser.add_argument("--load-only", action="store_true", help="only time loading the Amazon-book dataset")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of datasets, logs, checkpoints")
    parser.add_argument("--csv", default=None, metavar="OUT", help="write the rows to this CSV")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra settings (YAML values) for every row, after the variant's own")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags

    if args.worker is not None:
        result = worker(json.loads(args.worker))
        print(RESULT_MARK + json.dumps(result), flush=True)
        return

    csv_path = Path(args.csv).resolve() if args.csv else None
    data_dir = Path(args.data_dir).expanduser().resolve()
    from runner import enter_run_dir, parse_sets, write_csv

    run_dir = enter_run_dir(data_dir, "speed")
    args.extra = parse_sets(args.set)
    if args.load_only:
        rows = main_load_only(args, data_dir, run_dir)
    elif args.scaling is not None:
        args.scaling = args.scaling or DEFAULT_SIZES
        rows = main_scaling(args, data_dir, run_dir)
    else:
        rows = main_table(args, data_dir, run_dir)
    if csv_path and rows:
        keys = list(dict.fromkeys(k for row in rows for k in row))
        write_csv(csv_path, [{k: row.get(k) for k in keys} for row in rows])
        print(f"wrote {csv_path}")


if __name__ == "__main__":
    main()
