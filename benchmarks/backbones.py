"""Each backbone plain, with RLMRec-Con, RLMRec-Gen and IRLLRec on the embedded ml-100k.

    OMP_NUM_THREADS=1 python benchmarks/backbones.py [--backbones LightGCN SGL ...] [--epochs 300]

One run, one seed and split, shared settings (d, L, batch, lr, early stopping
on validation Recall@20). The plain row is the plugin's ``GraphCF`` with the
same encoder, so every text variant differs from its backbone only in its text
terms. Prints test Recall@20 / NDCG@20 and median seconds per training epoch
per (backbone, variant), whether IRLLRec beats its backbone, and writes a CSV.
Text weights come from properties/dataset/ml-100k.yaml (IRLLRec's kd / PA,
tuned there for ml-100k) and the RLMRec-Gen defaults; ``--set KEY=VALUE``
overrides them for every row.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import parse_sets, run_one, shared_settings, write_csv  # noqa: E402

VARIANTS = {"plain": "GraphCF", "RLMRec-Con": "RLMRecCon", "RLMRec-Gen": "RLMRecGen", "IRLLRec": "IRLLRec"}


def main() -> None:
    from recbole_irllrec.model.backbones import BACKBONES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--stopping-step", type=int, default=10, help="validations without gain before stopping")
    parser.add_argument("--csv", default="benchmarks/backbones_results.csv")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra settings for every row")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # keep RecBole's Config from reading our flags

    common = {**shared_settings(args.epochs, args.stopping_step), **parse_sets(args.set)}

    rows = []
    for backbone in args.backbones:
        for variant in args.variants:
            row = run_one(f"{backbone}/{variant}", VARIANTS[variant], {**common, "backbone": backbone})
            row = {"backbone": backbone, "variant": variant, **{k: v for k, v in row.items() if k != "model"}}
            rows.append(row)
            print(f"done {backbone} {variant}: {row}", flush=True)

    print()
    print(f"{'backbone':<10}{'variant':<12}{'epochs':>7}{'Recall@20':>11}{'NDCG@20':>10}{'s/epoch':>9}")
    for r in rows:
        print(f"{r['backbone']:<10}{r['variant']:<12}{r['epochs']:>7}{r['recall@20']:>11.4f}"
              f"{r['ndcg@20']:>10.4f}{r['sec_per_epoch']:>9.3f}")
    print()
    for backbone in args.backbones:
        got = {r["variant"]: r for r in rows if r["backbone"] == backbone}
        if "plain" in got and "IRLLRec" in got:
            a, b = got["IRLLRec"], got["plain"]
            verdict = "beats" if a["ndcg@20"] > b["ndcg@20"] and a["recall@20"] > b["recall@20"] else "does NOT beat"
            print(f"{backbone}: IRLLRec {verdict} its backbone (NDCG@20 x{a['ndcg@20'] / b['ndcg@20']:.3f}, "
                  f"Recall@20 x{a['recall@20'] / b['recall@20']:.3f}, s/epoch x{a['sec_per_epoch'] / b['sec_per_epoch']:.2f})")
    write_csv(args.csv, rows)
    print(f"\nwrote {args.csv}")


if __name__ == "__main__":
    main()
