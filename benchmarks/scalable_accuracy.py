"""Accuracy of IRLLRec's scalable setting against the faithful computation (issue 12).

Commands (from the repository root)::

    # the full comparison: ml-100k (100 epochs) and Amazon-book's first 2,500 users
    # (30 epochs), IRLLRec-scalable / IRLLRec-faithful / GraphCF, seeds 2020-2022
    OMP_NUM_THREADS=1 python benchmarks/scalable_accuracy.py --csv scalable_accuracy.csv
    # one dataset, more epochs, an extra setting for every row
    OMP_NUM_THREADS=1 python benchmarks/scalable_accuracy.py --datasets amazon-book-2500 --epochs 60 \\
        --set kd_int_weight=1e-3
    # smoke tests
    OMP_NUM_THREADS=1 python benchmarks/scalable_accuracy.py --datasets ml-100k --epochs 1 --seeds 2020
    OMP_NUM_THREADS=1 python benchmarks/scalable_accuracy.py --datasets amazon-book-2500 --epochs 1 --seeds 2020

What runs. For every dataset, variant and seed one training run through
``benchmarks/runner.run_one`` (RecBole's trainer): early stopping on validation
NDCG@20, validation every epoch, patience 5 validations, at most ``--epochs``
epochs (default 100 on ml-100k, 30 on amazon-book-2500); then the test split is
evaluated once, with the best-validation checkpoint. The seed is RecBole's
``seed`` (initialisation, negative sampling, batch order); the split is fixed.
Shared settings: ``runner.shared_settings`` (32-d, 3 layers, lr 1e-3) with the
reference's batch of 4096, metrics Recall/NDCG at 5/10/20; ``--set KEY=VALUE``
(YAML values) applies to every row, last.

Variants (``runner.VARIANTS``): ``IRLLRec-scalable`` = ``properties/scalable.yaml``,
``IRLLRec-faithful`` = the reference's computation spelt out (``runner.FAITHFUL``; the
property files' defaults), and ``GraphCF`` (the backbone alone, no text).

Datasets: ``ml-100k`` (the embedded default, prepared under ``--data-dir``) and
``amazon-book-2500`` (any ``amazon-book-<n>``, or ``amazon-book``): the published
Amazon-book split reduced to its first n users (rows 0..n-1 of trn/val/tst),
items without a training interaction among them dropped, converted by
convert-rlmrec into ``<data-dir>/amazon-book-2500`` with stand-in 1536-d /
3072-d vectors made from the reduced train matrix (``benchmarks/bench_data.py``,
``benchmarks/standin.py``) and the dataset keys of properties/dataset/amazon-book.yaml
(so the reference's test masking: training items only).

Rows. The CSV (``--csv``, default ``<data-dir>/results/scalable_accuracy.csv``,
rewritten atomically after every run) has one row per seed. The table gives mean
± sample standard deviation over seeds of validation NDCG@20 (best epoch), test
NDCG@20, test Recall@20 and seconds per training epoch (median of the run's
epochs), then per dataset whether the scalable mean validation NDCG@20 is >= the
faithful one and whether the intervals mean ± std separate. Only validation
numbers decide anything; test numbers are reported, never selected on.

RecBole's log/ and the checkpoints go to ``<data-dir>/runs/scalable_accuracy/``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_data import AMAZON, DEFAULT_DATA_DIR, prepare_amazon, reduced_users  # noqa: E402
from runner import (  # noqa: E402
    VARIANTS,
    dataset_settings,
    enter_run_dir,
    intervals_separate,
    mean_std,
    parse_sets,
    run_one,
    shared_settings,
    write_csv,
)

DATASETS = ["ml-100k", "amazon-book-2500"]
DEFAULT_EPOCHS = {"ml-100k": 100, "amazon-book-2500": 30}
VARIANT_NAMES = ["IRLLRec-scalable", "IRLLRec-faithful", "GraphCF"]
SEEDS = [2020, 2021, 2022]
PATIENCE = 5
SCALABLE, FAITHFUL = "IRLLRec-scalable", "IRLLRec-faithful"
METRICS = [("valid_ndcg@20", "valid NDCG@20", ".4f"), ("test_ndcg@20", "test NDCG@20", ".4f"),
           ("test_recall@20", "test Recall@20", ".4f"), ("sec_per_epoch", "s/epoch", ".2f")]


def dataset_name(text: str) -> str:
    if text != "ml-100k":
        reduced_users(text)  # raises for other names
    return text


def prepare(name: str, data_dir: Path) -> None:
    if name == "ml-100k":
        from dataset_prep.movielens import prepare_ml100k

        prepare_ml100k(data_dir)
        return
    info = prepare_amazon(data_dir, reduced_users(name))
    state = "reused" if info["standin"]["reused"] else f"written in {info['standin']['seconds']} s"
    print(f"{info['folder']}: {info.get('reduction', '')} stand-in vectors {state}", flush=True)


def protocol(epochs: int, seed: int, device: str, run_dir: Path) -> dict:
    """The settings every row shares (over the dataset's own keys)."""
    return {
        **shared_settings(epochs, PATIENCE),
        "seed": seed,
        "gpu_id": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if device == "cuda" else "",
        "train_batch_size": 4096,
        "eval_step": 1,
        "valid_metric": "NDCG@20",
        "metrics": ["Recall", "NDCG"],
        "topk": [5, 10, 20],
        "checkpoint_dir": str(run_dir / "saved"),
        "show_progress": False,
    }


def summarise(rows: list[dict]) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["variant"]), []).append(row)
    header = ["dataset", "variant", "seeds"] + [h for _, h, _ in METRICS]
    lines = [header]
    stats: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for (dataset, variant), group in groups.items():
        stats[(dataset, variant)] = {key: mean_std([r[key] for r in group]) for key, _, _ in METRICS}
        lines.append([dataset, variant, str(len(group))] + [
            f"{m:{f}} ± {s:{f}}" for (key, _, f), (m, s) in zip(METRICS, stats[(dataset, variant)].values())
        ])
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    print()
    for line in lines:
        print("  ".join(v.ljust(w) if c < 2 else v.rjust(w) for c, (v, w) in enumerate(zip(line, widths))))
    print()
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        if (dataset, SCALABLE) not in stats or (dataset, FAITHFUL) not in stats:
            continue
        (ms, ss), (mf, sf) = stats[(dataset, SCALABLE)]["valid_ndcg@20"], stats[(dataset, FAITHFUL)]["valid_ndcg@20"]
        n = min(len(groups[(dataset, SCALABLE)]), len(groups[(dataset, FAITHFUL)]))
        verdict = "yes" if ms >= mf else "no"
        separate = intervals_separate((ms, ss), (mf, sf))
        note = " (one seed: no spread)" if n < 2 else ""
        print(f"{dataset}: scalable mean valid NDCG@20 {ms:.4f} >= faithful {mf:.4f}: {verdict}; "
              f"intervals mean ± std [{ms - ss:.4f}, {ms + ss:.4f}] vs [{mf - sf:.4f}, {mf + sf:.4f}] "
              f"{'separate' if separate else 'overlap'}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, type=dataset_name,
                        help=f"ml-100k and/or {AMAZON}[-<first users>] (default {DATASETS})")
    parser.add_argument("--variants", nargs="+", default=VARIANT_NAMES, choices=VARIANT_NAMES)
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epoch budget for every dataset (default: 100 on ml-100k, 30 on Amazon-book subsets)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra settings for every row")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of datasets, logs, checkpoints")
    parser.add_argument("--csv", default=None, help="per-seed rows (default <data-dir>/results/scalable_accuracy.csv)")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags
    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms

    data_dir = Path(args.data_dir).expanduser().resolve()
    csv_path = Path(args.csv).resolve() if args.csv else data_dir / "results" / "scalable_accuracy.csv"
    extra = parse_sets(args.set)
    run_dir = enter_run_dir(data_dir, "scalable_accuracy")
    rows: list[dict] = []
    for dataset in args.datasets:
        prepare(dataset, data_dir)
        epochs = args.epochs or DEFAULT_EPOCHS.get(dataset, 30)
        for variant in args.variants:
            model, overrides = VARIANTS[variant]
            for seed in args.seeds:
                config_dict = {
                    **dataset_settings(dataset, data_dir),
                    **protocol(epochs, seed, args.device, run_dir),
                    **overrides,
                    **extra,
                }
                started = time.perf_counter()
                result = run_one(variant, model, config_dict, dataset=dataset)
                row = {
                    "dataset": dataset,
                    "variant": variant,
                    "seed": seed,
                    "epochs": result["epochs"],
                    "best_epoch": result["best_epoch"],
                    "valid_ndcg@20": result["valid_ndcg@20"],
                    "valid_recall@20": result["valid_recall@20"],
                    "test_ndcg@20": result["ndcg@20"],
                    "test_recall@20": result["recall@20"],
                    "sec_per_epoch": result["sec_per_epoch"],
                    "wall_s": round(time.perf_counter() - started, 1),
                    "settings": json.dumps({**overrides, **extra}, sort_keys=True),
                }
                rows.append(row)
                write_csv(csv_path, rows)
                print(f"done {dataset} {variant} seed {seed}: valid NDCG@20 {row['valid_ndcg@20']:.4f}, "
                      f"test NDCG@20 {row['test_ndcg@20']:.4f}, {row['epochs']} epochs, "
                      f"{row['sec_per_epoch']:.2f} s/epoch, {row['wall_s']} s", flush=True)
    summarise(rows)
    print(f"\nper-seed rows: {csv_path}")


if __name__ == "__main__":
    main()
