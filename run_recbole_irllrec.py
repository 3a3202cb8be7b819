"""Train and test a model with recbole-irllrec.

    python run_recbole_irllrec.py --model=IRLLRec --dataset=ml-100k
    python run_recbole_irllrec.py --model=LightGCN --dataset=ml-100k --epochs=50

Plugin models (IRLLRec) and RecBole's own models run through the same
function. ``--config_files`` takes space-separated YAML files; any other
``--key=value`` is read by RecBole's Config as an override. For ``ml-100k`` the
embedded default dataset (RecBole's bundled ml-100k plus text features) is
built on first use under ``<data_path>/ml-100k`` and reused afterwards.
"""
from __future__ import annotations

import argparse

from dataset_prep.embedded import prepare_embedded
from recbole_irllrec.quick_start import run_recbole_irllrec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", "-m", type=str, default="IRLLRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="ml-100k", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    args, _ = parser.parse_known_args()
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    run_recbole_irllrec(
        model=args.model, dataset=args.dataset, config_file_list=config_files, prepare=prepare_embedded
    )


if __name__ == "__main__":
    main()
