"""Each backbone plain, with RLMRec-Con, RLMRec-Gen and IRLLRec on the embedded ml-100k.

    OMP_NUM_THREADS=1 python benchmarks/backbones.py --seeds 2020 --epochs 30 --jobs 2
    OMP_NUM_THREADS=1 python benchmarks/backbones.py --backbones SGL SimGCL --variants plain --seeds 2020 2021 2022 \\
        --set sgl_form=reference simgcl_form=reference     # a backbone option for every row
    python benchmarks/backbones.py --summarise ~/.cache/recbole_irllrec/bench/results/backbones.csv

Every (backbone, variant, seed) is one training run through ``runner.run_one``
with the settings of ``configs/ml100k_shared.yaml`` and the dataset's protocol
(validation Recall@20, early stopping with patience ``--stopping-step``, at most
``--epochs``; the test split read once, with the best-validation checkpoint).
The plain row is the plugin's ``GraphCF`` with the same encoder, so every text
variant differs from its backbone only in its text terms.

Per-backbone settings: a backbone with a model file of its own
(properties/model/DCCF.yaml, BIGCF.yaml: the authors' embedding size, layers and
L2 weight) runs every variant with those values, so plain and text rows of one
backbone share them; the others use the shared 32-d, 3 layers. Text weights come
from the property files (IRLLRec's ml-100k weights, chosen on validation);
``--set KEY=VALUE`` applies to every row, last.

Runs go seed by seed, so a stopped run's CSV holds whole seeds; ``--summarise``
prints its table (a backbone's seed counts once all its variants finished). Prints mean ± sample std over seeds of test Recall@20 / NDCG@20, epochs and seconds
per training epoch per (backbone, variant), whether IRLLRec's intervals separate
from its backbone's, and writes a CSV (one row per run).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_data import DEFAULT_DATA_DIR  # noqa: E402
from runner import (  # noqa: E402
    enter_run_dir,
    intervals_separate,
    mean_std,
    parse_sets,
    run_many,
    shared_settings,
    write_csv,
)

VARIANTS = {"plain": "GraphCF", "RLMRec-Con": "RLMRecCon", "RLMRec-Gen": "RLMRecGen", "IRLLRec": "IRLLRec"}
# the keys a backbone's own model file fixes for every variant built on it
BACKBONE_KEYS = ("embedding_size", "n_layers", "reg_weight")
COLUMNS = [("test_recall@20", "Recall@20", ".4f"), ("test_ndcg@20", "NDCG@20", ".4f"),
           ("epochs", "epochs", ".0f"), ("sec_per_epoch", "s/epoch", ".2f")]


def backbone_settings(backbone: str) -> dict:
    """The authors' size, depth and L2 weight of ``backbone`` where it has a model file."""
    from recbole_irllrec.properties_path import properties_dir

    path = properties_dir() / "model" / f"{backbone}.yaml"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as f:
        settings = yaml.safe_load(f)
    return {k: settings[k] for k in BACKBONE_KEYS if k in settings}


def summarise(rows: list[dict], backbones: list[str], variants: list[str]) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["backbone"], row["variant"]), []).append(row)
    stats = {k: {key: mean_std([float(r[key]) for r in g]) for key, _, _ in COLUMNS} for k, g in groups.items()}
    lines = [["backbone", "variant", "seeds"] + [title for _, title, _ in COLUMNS]]
    for key in ((b, v) for b in backbones for v in variants if (b, v) in groups):
        cells = [f"{m:{f}} ± {s:{f}}" for (_, _, f), (m, s) in zip(COLUMNS, stats[key].values())]
        lines.append([*key, str(len(groups[key]))] + cells)
    widths = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
    print()
    for line in lines:
        print("  ".join(v.ljust(w) if c < 2 else v.rjust(w) for c, (v, w) in enumerate(zip(line, widths))))
    print()
    for backbone in backbones:
        if (backbone, "plain") not in stats or (backbone, "IRLLRec") not in stats:
            continue
        ours, base = stats[(backbone, "IRLLRec")], stats[(backbone, "plain")]
        one_seed = min(len(groups[(backbone, "IRLLRec")]), len(groups[(backbone, "plain")])) < 2
        parts = []
        for key in ("test_ndcg@20", "test_recall@20"):
            if one_seed:  # std 0 would make any difference look separate
                verdict = "one seed: no interval"
            else:
                verdict = "separate" if intervals_separate(ours[key], base[key]) else "overlap"
            parts.append(f"{key} x{ours[key][0] / base[key][0]:.3f} ({verdict})")
        ratio = ours["sec_per_epoch"][0] / base["sec_per_epoch"][0]
        print(f"{backbone}: IRLLRec / plain " + ", ".join(parts) + f", s/epoch x{ratio:.2f}")


def main() -> None:
    from recbole_irllrec.model.backbones import BACKBONES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--stopping-step", type=int, default=5, help="validations without gain before stopping")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra settings for every row")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of datasets, logs, checkpoints")
    parser.add_argument("--csv", default=None, help="per-run rows (default <data-dir>/results/backbones.csv)")
    parser.add_argument("--summarise", metavar="CSV", default=None,
                        help="print the table of an earlier run's CSV and exit (trains nothing)")
    args = parser.parse_args()
    if args.summarise:
        import csv

        with open(args.summarise, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        # a stopped run: a (backbone, seed) counts only once every variant of it finished
        done: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            done.setdefault((row["backbone"], row["seed"]), set()).add(row["variant"])
        rows = [r for r in rows if done[(r["backbone"], r["seed"])] >= set(args.variants)]
        summarise(rows, [b for b in args.backbones if any(r["backbone"] == b for r in rows)], args.variants)
        return
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags
    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms

    from dataset_prep.movielens import prepare_ml100k

    data_dir = Path(args.data_dir).expanduser().resolve()
    csv_path = Path(args.csv).resolve() if args.csv else data_dir / "results" / "backbones.csv"
    prepare_ml100k(data_dir)  # once, before any worker starts
    run_dir = enter_run_dir(data_dir, "backbones")
    extra = parse_sets(args.set)
    tasks = []
    # seed-major, so an interrupted run still holds whole seeds (see --summarise)
    for seed in args.seeds:
        for backbone in args.backbones:
            for variant in args.variants:
                config = {
                    **shared_settings(args.epochs, args.stopping_step),
                    **backbone_settings(backbone),
                    "backbone": backbone,
                    "seed": seed,
                    "data_path": str(data_dir),
                    "checkpoint_dir": str(run_dir / "saved"),
                    "show_progress": False,
                    **extra,
                }
                tasks.append((f"{backbone}/{variant}", VARIANTS[variant], config, "ml-100k"))

    rows: list[dict] = []
    started = time.perf_counter()

    def record(task, result) -> None:
        name, _, config, _ = task
        backbone, variant = name.split("/")
        row = {
            "backbone": backbone,
            "variant": variant,
            "seed": config["seed"],
            "epochs": result["epochs"],
            "best_epoch": result["best_epoch"],
            "valid_recall@20": result["valid_recall@20"],
            "test_recall@20": result["recall@20"],
            "test_ndcg@20": result["ndcg@20"],
            "sec_per_epoch": result["sec_per_epoch"],
            "settings": json.dumps({**backbone_settings(backbone), **extra}, sort_keys=True),
        }
        rows.append(row)
        write_csv(csv_path, rows)
        print(f"done {name} seed {row['seed']}: test NDCG@20 {row['test_ndcg@20']:.4f}, {row['epochs']} epochs, "
              f"{row['sec_per_epoch']:.2f} s/epoch, {time.perf_counter() - started:.0f} s so far", flush=True)

    run_many(tasks, run_dir, args.jobs, record)
    summarise(rows, args.backbones, args.variants)
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
