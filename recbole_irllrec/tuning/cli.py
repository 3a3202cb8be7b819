"""Command-line options of a search, shared by the run script."""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import TYPE_CHECKING

from recbole_irllrec.command_line import config_words

if TYPE_CHECKING:
    from recbole_irllrec.tuning.search import SearchSettings


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Ray Tune search (with --tune)")
    group.add_argument("--tune", dest="space_file", metavar="SPACE.yaml", help="search the space in this file (see properties/hyper/)")
    group.add_argument("--num-samples", type=int, default=1, help="samples drawn (per grid combination)")
    group.add_argument("--max-concurrent", type=int, default=None, help="trials running at once (default: as resources allow)")
    group.add_argument("--metric", default=None, help="validation metric to optimise (default: valid_metric)")
    group.add_argument("--mode", choices=["max", "min"], default=None, help="default: the metric's own direction")
    group.add_argument("--cpus-per-trial", type=float, default=1.0)
    group.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions share a GPU; 0 trains on the CPU")
    group.add_argument("--address", default=None, help="join this Ray cluster (e.g. auto); default: start a local one")
    group.add_argument("--scheduler", choices=["asha", "fifo"], default="asha", help="asha stops weak trials early")
    group.add_argument("--grace-period", type=int, default=1, help="validations before ASHA may stop a trial")
    group.add_argument("--reduction-factor", type=int, default=4, help="ASHA keeps 1/factor of the trials per rung")
    group.add_argument("--output", dest="output_dir", default=None, help="folder for results.csv, best.yaml and the trials")


def settings_from_args(args: argparse.Namespace) -> SearchSettings:
    """The search options (argument names match :class:`SearchSettings`' fields)."""
    from recbole_irllrec.tuning.search import SearchSettings  # Ray, only when searching

    return SearchSettings(**{f.name: getattr(args, f.name) for f in fields(SearchSettings) if hasattr(args, f.name)})


def config_overrides(args: list[str]) -> dict[str, str]:
    """``--key=value`` arguments as a dict (RecBole converts the values); any
    other word is refused (:func:`recbole_irllrec.command_line.config_words`)."""
    return config_words(args)
