"""BPR, LightGCN and IRLLRec on the embedded ml-100k, one run, same seed and split.

    OMP_NUM_THREADS=1 python benchmarks/ml100k.py [--epochs 300] [--models BPR LightGCN IRLLRec]

Each model trains to early stopping on validation Recall@20 (RecBole's
trainer); the table gives test Recall@20 / NDCG@20 and the median training
seconds per epoch (the timed part is RecBole's ``_train_epoch``: forward,
backward and the optimiser step, no evaluation), plus IRLLRec/LightGCN ratios.
Shared settings (embedding size, layers, batch size, learning rate) are the
same for every model so the comparison is like for like.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import parse_sets, run_one, shared_settings, write_csv  # noqa: E402

# IRLLRec with every alignment term off: the reference's LightGCN (layer sum)
ALIGNMENT_OFF = {"kd_weight": 0.0, "kd_int_weight": 0.0, "kd_int_weight_2": 0.0, "kd_int_weight_3": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--models", nargs="+", default=["BPR", "LightGCN", "IRLLRec-noalign", "IRLLRec"])
    parser.add_argument("--stopping-step", type=int, default=10, help="validations without gain before stopping")
    parser.add_argument("--csv", type=str, default="benchmarks/ml100k_results.csv")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra IRLLRec settings")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags

    common = shared_settings(args.epochs, args.stopping_step)
    irllrec_extra = parse_sets(args.set)
    plan = {
        "BPR": ("BPR", {}),
        "LightGCN": ("LightGCN", {}),
        "IRLLRec-noalign": ("IRLLRec", ALIGNMENT_OFF),
        "IRLLRec": ("IRLLRec", irllrec_extra),
    }
    rows = []
    for name in args.models:
        model, extra = plan[name]
        row = run_one(name, model, {**common, **extra})
        rows.append(row)
        print(f"done {name}: {row}", flush=True)

    print()
    print(f"{'model':<16}{'epochs':>7}{'Recall@20':>11}{'NDCG@20':>10}{'s/epoch':>9}")
    for r in rows:
        print(f"{r['model']:<16}{r['epochs']:>7}{r['recall@20']:>11.4f}{r['ndcg@20']:>10.4f}{r['sec_per_epoch']:>9.3f}")
    by_name = {r["model"]: r for r in rows}
    if "IRLLRec" in by_name and "LightGCN" in by_name:
        a, b = by_name["IRLLRec"], by_name["LightGCN"]
        print(
            f"\nIRLLRec / LightGCN: NDCG@20 {a['ndcg@20'] / b['ndcg@20']:.3f}, "
            f"Recall@20 {a['recall@20'] / b['recall@20']:.3f}, "
            f"seconds per epoch {a['sec_per_epoch'] / b['sec_per_epoch']:.2f}"
        )
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
