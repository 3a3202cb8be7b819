"""Command line: ``python -m dataset_prep ml-100k --data-root dataset [--seed 2020] [--force]``.

One subcommand per dataset; each maps its options onto the matching
``prepare_*`` function.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _ratio_list(text: str) -> list[float]:
    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected three ratios, e.g. 0.8,0.1,0.1")
    return [float(p) for p in parts]


def build_parser() -> argparse.ArgumentParser:
    """Parser with one subcommand per supported dataset."""
    parser = argparse.ArgumentParser(prog="python -m dataset_prep", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="DATASET")

    ml100k = commands.add_parser("ml-100k", help="prepare RecBole's bundled MovieLens-100K")
    ml100k.add_argument("--data-root", default="dataset", help="folder that receives ml-100k/ (default: dataset)")
    ml100k.add_argument("--seed", type=int, default=2020, help="split seed (default: 2020)")
    ml100k.add_argument(
        "--ratios", type=_ratio_list, default=[0.8, 0.1, 0.1], help="train,valid,test (default: 0.8,0.1,0.1)"
    )
    ml100k.add_argument("--device", default=None, help="torch device for the embedder (default: automatic)")
    ml100k.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    ml100k.set_defaults(handler=_run_ml100k)
    return parser


def _run_ml100k(args: argparse.Namespace) -> None:
    # Imported here so that --help stays instant.
    from .embed import SentenceTransformerEmbedder
    from .movielens import prepare_ml100k

    embedder = SentenceTransformerEmbedder(device=args.device) if args.device else None
    folder = prepare_ml100k(args.data_root, embedder=embedder, seed=args.seed, ratios=args.ratios, force=args.force)
    print(folder)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen subcommand, return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.handler(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
