"""Cold start on the embedded ml-100k: popularity, RecBole's LightGCN, GraphCF, RLMRec-Con and
IRLLRec with each cold scoring choice, over seeds (issue 17).

    OMP_NUM_THREADS=1 python benchmarks/cold_start.py --seeds 2020 2021 2022 --epochs 40
    OMP_NUM_THREADS=1 python benchmarks/cold_start.py --cold-item-ratio 0 --cold-user-ratio 0.2   # cold users
    python benchmarks/cold_start.py --summarise <csv>                                        # table of a stopped run

What runs. For each seed, the embedded ml-100k is split with ``cold_item_ratio`` (``cold_user_ratio``)
and ``cold_seed`` = the seed, before its texts and vectors are written
(``<data-dir>/ml-100k-cold-i0.2-u0-s<seed>/``): every training interaction of a cold item moves to
validation or test. Each model trains once (``configs/ml100k_shared.yaml``, early stopping on
validation Recall@20 over all items, patience ``--stopping-step``, at most ``--epochs``; the seed is
RecBole's too). Its best-validation checkpoint is then evaluated with every cold scoring choice
it has (``cold_scoring``: cf, intent, profile, combined, vectors; scoring only, so one training
serves them all), first on validation, then once on test, by :func:`recbole_irllrec.analysis.cold.cold_slices`:
``all`` (RecBole's full ranking over warm + cold items) and ``cold items`` (each user's cold
positives ranked among the cold items only; users without one left out), plus ``warm items``
and, for cold users, ``cold users`` / ``warm users``.

Baselines. ``Pop`` (RecBole's popularity: every cold item has count 0, so its cold ranking is
a tie broken by id), RecBole's ``LightGCN`` and the plugin's ``GraphCF`` (no text: a cold item
keeps an untrained embedding, shown as choice ``cf``: they cannot score cold items),
``RLMRecCon`` (its profile tower) and ``IRLLRec``. ``GraphCF`` also gets a ``vectors`` row:
the same ridge map from the text vectors, onto the embeddings of a model trained without
text, the same-encoder control for the text models' ``vectors`` rows.

Output. One row per (model, choice, seed, split, slice) in the CSV (``--csv``, rewritten
atomically after every model); the table gives mean ± sample std over seeds of test
Recall@20 / NDCG@20 on the cold slice and overall, and validation Recall@20 on the cold slice
(what picks the default choice); then each text scorer against popularity on the cold slice
(intervals separate or not) and the choice with the best validation cold Recall@20 per model.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_data import DEFAULT_DATA_DIR  # noqa: E402
from runner import NO_TEXT, enter_run_dir, intervals_separate, mean_std, shared_settings, write_csv  # noqa: E402

# name -> (model, overrides)
MODELS = {
    "Pop": ("Pop", {**NO_TEXT, "epochs": 1}),
    "LightGCN": ("LightGCN", NO_TEXT),
    "GraphCF": ("GraphCF", NO_TEXT),
    "RLMRecCon": ("RLMRecCon", {}),
    "IRLLRec": ("IRLLRec", {}),
}
SEEDS = [2020, 2021, 2022]
BASELINE = "Pop"
SLICES = ("cold items", "all", "cold users")


def attach_vectors_scorer(model, train_data, config_dict: dict) -> None:
    """Give a trained GraphCF the ``vectors`` cold scorer (a ridge map from the text vectors to
    its final embeddings, fitted on its warm nodes): the same-encoder control for the text
    models' ``vectors`` row. The vectors come from the dataset as IRLLRec loads it (same files,
    same id mapping, checked)."""
    import numpy as np

    from recbole_irllrec.config import Config
    from recbole_irllrec.data.text_features import INTENT_COLUMNS, PROFILE_COLUMNS, load_text_matrices
    from recbole_irllrec.model.cold import ColdScoring
    from recbole_irllrec.model.towers import TextEncoder
    from recbole_irllrec.quick_start import create_dataset

    text_config = Config(model="IRLLRec", dataset="ml-100k",
                         config_dict={k: v for k, v in config_dict.items() if k not in NO_TEXT})
    text_dataset = create_dataset(text_config)
    ours = train_data._dataset
    for field in (ours.uid_field, ours.iid_field):
        if not np.array_equal(text_dataset.field2id_token[field], ours.field2id_token[field]):
            raise ValueError(f"the text dataset maps {field} to other ids than GraphCF's")
    matrices = load_text_matrices(text_config, text_dataset, PROFILE_COLUMNS + INTENT_COLUMNS)
    towers = {kind: TextEncoder(matrices[f"user_{kind}"], matrices[f"item_{kind}"], model.embedding_size)
              for kind in ("profile", "intent")}  # only their vectors are read by the vectors map
    settings = {"model": "GraphCF", "cold_scoring": "vectors", "cold_ridge": text_config["cold_ridge"]}
    model.cold_scoring = ColdScoring(settings, model.backbone.edge_index, model.n_users, model.n_nodes, towers)


def train_and_evaluate(name: str, config_dict: dict, setting: str) -> list[dict]:
    """Train ``name`` once, then evaluate its best checkpoint with each cold choice on valid, then test."""
    from recbole.utils import init_logger, init_seed

    from dataset_prep.embedded import prepare_embedded
    from recbole_irllrec.analysis.cold import ColdNodes, cold_slices
    from recbole_irllrec.checkpoint import load_checkpoint
    from recbole_irllrec.config import Config
    from recbole_irllrec.quick_start import build_data_and_model
    from recbole_irllrec.utils import get_trainer

    model_name, _ = MODELS[name]
    config = Config(model=model_name, dataset="ml-100k", config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    _, model, train_data, valid_data, test_data = build_data_and_model(config, prepare_embedded)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    started = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False, verbose=False)
    seconds = time.perf_counter() - started
    checkpoint = load_checkpoint(trainer.saved_model_file, map_location="cpu")
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    if name == "GraphCF":
        attach_vectors_scorer(model, train_data, config_dict)
    scorer = getattr(model, "cold_scoring", None)
    choices = ("cf", "vectors") if name == "GraphCF" else scorer.available() if scorer is not None else ("cf",)
    nodes = ColdNodes.of(train_data)
    rows = []
    for split, data in (("valid", valid_data), ("test", test_data)):  # test read once per (model, choice)
        for choice in choices:
            if scorer is not None:
                model.use_cold_scoring(choice)
            for slice_name, values in cold_slices(config, model, train_data, data, nodes).items():
                rows.append({
                    "setting": setting, "model": name, "choice": choice, "seed": config["seed"], "split": split, "slice": slice_name,
                    "users": values["users"], "recall@20": values["recall@20"], "ndcg@20": values["ndcg@20"],
                    "best_epoch": checkpoint["epoch"], "train_seconds": round(seconds, 1),
                })
    return rows


def _stats(rows: list[dict], split: str, slice_name: str, metric: str) -> dict[tuple[str, str], tuple]:
    values: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row["split"] == split and row["slice"] == slice_name:
            values.setdefault((row["model"], row["choice"]), []).append(float(row[metric]))
    return {key: (*mean_std(v), len(v)) for key, v in values.items()}


def summarise(rows: list[dict]) -> None:
    # the slice the split is about (rows of an older CSV without the column: cold items)
    cold_slice = rows[0].get("setting") or "cold items"
    columns = [("test", cold_slice, "recall@20"), ("test", cold_slice, "ndcg@20"), ("test", "all", "recall@20"),
               ("test", "all", "ndcg@20"), ("valid", cold_slice, "recall@20"), ("valid", "all", "recall@20")]
    stats = [_stats(rows, *column) for column in columns]
    keys = sorted(stats[0], key=lambda k: (list(MODELS).index(k[0]), k[1]))
    lines = [["model", "cold scoring", "seeds"] + [f"{s} {sl} {m}" for s, sl, m in columns]]
    for key in keys:
        no_text = key[0] in ("Pop", "LightGCN") or key == ("GraphCF", "cf")
        lines.append([key[0], key[1] + (" (no text: cannot score cold)" if no_text else ""),
                      str(stats[0][key][2])] + [f"{st[key][0]:.4f} ± {st[key][1]:.4f}" if key in st else "-" for st in stats])
    widths = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
    print()
    for line in lines:
        print("  ".join(v.ljust(w) if c < 2 else v.rjust(w) for c, (v, w) in enumerate(zip(line, widths))))
    base = (BASELINE, "cf")
    if base in stats[0]:
        print(f"\nagainst popularity on the {cold_slice} slice (test Recall@20 / NDCG@20):")
        for key in keys:
            if key[1] != "cf":
                parts = []
                for st in stats[:2]:
                    ours, pop = st[key][:2], st[base][:2]
                    if min(st[key][2], st[base][2]) < 2:
                        verdict = "one seed: no interval"
                    else:
                        verdict = "separate" if intervals_separate(ours, pop) else "overlap"
                    parts.append(f"{ours[0] - pop[0]:+.4f} ({verdict})")
                print(f"  {key[0]} {key[1]}: " + ", ".join(parts))
    print(f"\nvalidation {cold_slice} Recall@20 picks, per text model:")
    for model in ("GraphCF", "RLMRecCon", "IRLLRec"):
        options = {k[1]: v for k, v in stats[4].items() if k[0] == model and k[1] != "cf"}
        if options:
            best = max(options, key=lambda c: options[c][0])
            print(f"  {model}: {best} (" + ", ".join(f"{c} {v[0]:.4f} ± {v[1]:.4f}" for c, v in options.items()) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--cold-item-ratio", type=float, default=0.2)
    parser.add_argument("--cold-user-ratio", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--stopping-step", type=int, default=5, help="validations without gain before stopping")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of datasets, logs, checkpoints")
    parser.add_argument("--csv", default=None, help="per-row results (default <data-dir>/results/cold_start.csv)")
    parser.add_argument("--summarise", metavar="CSV", help="print the table of a (stopped) run's CSV and exit")
    args = parser.parse_args()
    if args.summarise:
        with open(args.summarise, encoding="utf-8") as f:
            summarise(list(csv.DictReader(f)))
        return
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags
    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms
    import torch

    torch.set_num_threads(1)
    from dataset_prep.movielens import prepare_ml100k

    data_dir = Path(args.data_dir).expanduser().resolve()
    csv_path = Path(args.csv).resolve() if args.csv else data_dir / "results" / "cold_start.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    run_dir = enter_run_dir(data_dir, "cold_start")
    rows: list[dict] = []
    started = time.perf_counter()
    for seed in args.seeds:  # seed by seed: a stopped run has whole seeds
        prepare_ml100k(data_dir, cold_item_ratio=args.cold_item_ratio, cold_user_ratio=args.cold_user_ratio,
                       cold_seed=seed)
        for name in args.models:
            _, overrides = MODELS[name]
            config = {
                **shared_settings(args.epochs, args.stopping_step), "seed": seed, "data_path": str(data_dir),
                "checkpoint_dir": str(run_dir / "saved"), "show_progress": False, "threads": 1,
                "cold_item_ratio": args.cold_item_ratio, "cold_user_ratio": args.cold_user_ratio, "cold_seed": seed,
                **overrides,
            }
            new = train_and_evaluate(name, config, "cold items" if args.cold_item_ratio else "cold users")
            rows.extend(new)
            write_csv(csv_path, rows)
            cold = [r for r in new if r["split"] == "test" and r["slice"] in ("cold items", "cold users")]
            print(f"done {name} seed {seed} ({time.perf_counter() - started:.0f} s so far): "
                  + ", ".join(f"{r['choice']} cold R@20 {r['recall@20']:.4f}" for r in cold), flush=True)
    summarise(rows)
    print(f"\nper-row results: {csv_path}")


if __name__ == "__main__":
    main()
