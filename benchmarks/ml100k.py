"""GraphCF, RLMRec-Con, IRLLRec, RecBole's LightGCN and BPR on the embedded ml-100k, over seeds.

    OMP_NUM_THREADS=1 python benchmarks/ml100k.py --seeds 2020 2021 2022 --jobs 2
    OMP_NUM_THREADS=1 python benchmarks/ml100k.py --models GraphCF IRLLRec --seeds 2020 --epochs 5   # smoke

What runs. Every model x seed is one training run through ``runner.run_one``
(RecBole's trainer) with the settings of ``configs/ml100k_shared.yaml`` (32-d, 3
layers, batch 2048, lr 1e-3, validation every epoch) and the dataset's protocol
(properties/dataset/ml-100k.yaml: validation on Recall@20, RecBole's test masking):
early stopping on validation Recall@20 (patience ``--stopping-step``, at most
``--epochs``), then the test split is evaluated once, with the best-validation
checkpoint. The seed is RecBole's ``seed`` (initialisation, negative sampling,
batch order); the split on disk is fixed.

Models. ``GraphCF``: the plugin's LightGCN backbone alone (layer sum, xavier
init, L2 over all parameters), the baseline that differs from RLMRec-Con and
IRLLRec only in their text terms, so their ratios to it isolate those terms.
``RLMRecCon`` and ``IRLLRec`` with their text weights from the property files
(properties/model/<Model>/ml-100k.yaml where present: chosen on validation, see
the README). ``LightGCN`` and ``BPR``: RecBole's own models, as extra rows.

Output. One row per run in the CSV (``--csv``, rewritten atomically after every
run); the table gives mean ± sample std over seeds of validation Recall@20 (what
selected the checkpoint), test NDCG@20 and Recall@20, epochs and seconds per
training epoch, the ratio of each text model's mean to GraphCF's, and whether
the mean ± std intervals separate (the only gain called real).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_data import DEFAULT_DATA_DIR  # noqa: E402
from runner import (  # noqa: E402
    NO_TEXT,
    enter_run_dir,
    intervals_separate,
    mean_std,
    parse_sets,
    run_many,
    shared_settings,
    write_csv,
)

# name -> (model, overrides)
MODELS = {
    "GraphCF": ("GraphCF", NO_TEXT),
    "RLMRecCon": ("RLMRecCon", {}),
    "IRLLRec": ("IRLLRec", {}),
    "LightGCN": ("LightGCN", NO_TEXT),
    "BPR": ("BPR", NO_TEXT),
}
BASELINE = "GraphCF"
TEXT_MODELS = ("RLMRecCon", "IRLLRec")
SEEDS = [2020, 2021, 2022]
COLUMNS = [("valid_recall@20", "valid Recall@20", ".4f"), ("test_ndcg@20", "test NDCG@20", ".4f"),
           ("test_recall@20", "test Recall@20", ".4f"), ("epochs", "epochs", ".0f"),
           ("sec_per_epoch", "s/epoch", ".2f")]


def summarise(rows: list[dict]) -> None:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["model"], []).append(row)
    stats = {name: {key: mean_std([float(r[key]) for r in group]) for key, _, _ in COLUMNS}
             for name, group in groups.items()}
    lines = [["model", "seeds"] + [title for _, title, _ in COLUMNS]]
    for name in (n for n in MODELS if n in groups):
        cells = [f"{m:{f}} ± {s:{f}}" for (key, _, f), (m, s) in zip(COLUMNS, stats[name].values())]
        lines.append([name, str(len(groups[name]))] + cells)
    widths = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
    print()
    for line in lines:
        print("  ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(line, widths))))
    if BASELINE not in stats:
        return
    print()
    for name in (n for n in TEXT_MODELS if n in stats):
        parts = []
        for key in ("test_ndcg@20", "test_recall@20", "valid_recall@20"):
            ours, base = stats[name][key], stats[BASELINE][key]
            verdict = "separate" if intervals_separate(ours, base) else "overlap"
            parts.append(f"{key} x{ours[0] / base[0]:.3f} ({verdict})")
        n = min(len(groups[name]), len(groups[BASELINE]))
        note = " (one seed: no spread, nothing is significant)" if n < 2 else ""
        print(f"{name} / {BASELINE}: " + ", ".join(parts) + note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--stopping-step", type=int, default=5, help="validations without gain before stopping")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra settings for every text model")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of datasets, logs, checkpoints")
    parser.add_argument("--csv", default=None, help="per-run rows (default <data-dir>/results/ml100k.csv)")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags
    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms

    from dataset_prep.movielens import prepare_ml100k

    data_dir = Path(args.data_dir).expanduser().resolve()
    csv_path = Path(args.csv).resolve() if args.csv else data_dir / "results" / "ml100k.csv"
    prepare_ml100k(data_dir)  # once, before any worker starts
    run_dir = enter_run_dir(data_dir, "ml100k")
    extra = parse_sets(args.set)
    tasks = []
    for name in args.models:
        model, overrides = MODELS[name]
        for seed in args.seeds:
            config = {
                **shared_settings(args.epochs, args.stopping_step),
                "seed": seed,
                "data_path": str(data_dir),
                "checkpoint_dir": str(run_dir / "saved"),
                "show_progress": False,
                **overrides,
                **(extra if name in TEXT_MODELS else {}),
            }
            tasks.append((name, model, config, "ml-100k"))

    rows: list[dict] = []
    started = time.perf_counter()

    def record(task, result) -> None:
        name, _, config, _ = task
        row = {
            "model": name,
            "seed": config["seed"],
            "epochs": result["epochs"],
            "best_epoch": result["best_epoch"],
            "valid_recall@20": result["valid_recall@20"],
            "valid_ndcg@20": result["valid_ndcg@20"],
            "test_ndcg@20": result["ndcg@20"],
            "test_recall@20": result["recall@20"],
            "sec_per_epoch": result["sec_per_epoch"],
            "settings": json.dumps({k: v for k, v in extra.items() if name in TEXT_MODELS}, sort_keys=True),
        }
        rows.append(row)
        write_csv(csv_path, sorted(rows, key=lambda r: (list(MODELS).index(r["model"]), r["seed"])))
        print(f"done {name} seed {row['seed']}: valid Recall@20 {row['valid_recall@20']:.4f}, "
              f"test NDCG@20 {row['test_ndcg@20']:.4f}, {row['epochs']} epochs "
              f"(best {row['best_epoch']}), {row['sec_per_epoch']:.2f} s/epoch, "
              f"{time.perf_counter() - started:.0f} s so far", flush=True)

    run_many(tasks, run_dir, args.jobs, record)
    summarise(rows)
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
