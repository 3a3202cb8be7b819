"""Train and test a model with recbole-irllrec, or search its hyperparameters.

    python run_recbole_irllrec.py --model=IRLLRec --dataset=ml-100k
    python run_recbole_irllrec.py --model=LightGCN --dataset=ml-100k --epochs=50
    python run_recbole_irllrec.py --model=IRLLRec --dataset=ml-100k \\
        --tune properties/hyper/IRLLRec.yaml --num-samples 8 --epochs=30
    python run_recbole_irllrec.py --config_files saved/tune/<search>/best.yaml
    python run_recbole_irllrec.py --model=DCCF --dataset=amazon-book --show_config

Plugin models (IRLLRec) and RecBole's own models run through the same
function. ``--config_files`` takes space-separated YAML files; any other
``--key=value`` is read by RecBole's Config as an override. Without
``--model``/``--dataset`` (here or in a config file) IRLLRec runs on
``ml-100k``, the embedded default dataset (RecBole's bundled ml-100k plus text
features), built on first use under ``<data_path>/ml-100k`` and reused
afterwards. ``--tune`` runs a Ray Tune search instead (options below) and
writes ``results.csv`` and ``best.yaml``, which reruns the best trial.
``--show_config`` prints every setting with its value and the file or layer
that set it, and exits without loading data.

Bad input (a refused setting, a malformed feature file, a checkpoint or
search space that does not load) and a search whose every trial failed end
with one ``error:`` line and a non-zero exit; ``--debug`` shows the traceback.
An unknown model, a value of the wrong type or outside its choices, a dataset
without atomic files and a word that is not ``--key=value`` (``--epochs 1``)
are refused before the config is logged or any data is loaded.
"""
from __future__ import annotations

import argparse
import sys
import traceback

from dataset_prep.embedded import prepare_embedded
from recbole_irllrec.command_line import config_words
from recbole_irllrec.config import Config
from recbole_irllrec.config_sources import format_sources
from recbole_irllrec.quick_start import run_recbole_irllrec
from recbole_irllrec.quiet import silence_known_warnings
from recbole_irllrec.tuning.errors import SearchFailed
from recbole_irllrec.tuning.cli import add_search_arguments, settings_from_args

# the script's options that are also config keys (RecBole records them as given on the command line)
RECBOLE_READS = ("model", "dataset", "config_files")


def main() -> int:
    """Run (or search), return the exit status."""
    silence_known_warnings()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", "-m", type=str, default=None, help="model name (default: IRLLRec)")
    parser.add_argument("--dataset", "-d", type=str, default=None, help="dataset name (default: ml-100k)")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument(
        "--show_config", action="store_true", help="print every setting, its value and its source, and exit"
    )
    add_search_arguments(parser)
    args, rest = parser.parse_known_args()
    try:
        overrides = config_words(rest)  # before any work: `--epochs 1` would otherwise be dropped
        # RecBole's Config reads sys.argv: only config keys, the script's own settings spelt --key=value
        given = {key: getattr(args, key) for key in RECBOLE_READS if getattr(args, key) is not None}
        sys.argv = [sys.argv[0], *(f"--{key}={value}" for key, value in given.items()), *rest]
        _run(args, overrides)
    except (ValueError, FileNotFoundError, SearchFailed) as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return 1 if isinstance(error, SearchFailed) else 2
    return 0


def _run(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    if args.show_config:
        print(format_sources(Config(model=args.model, dataset=args.dataset, config_file_list=config_files)))
        return
    if args.space_file is None:
        result = run_recbole_irllrec(
            model=args.model, dataset=args.dataset, config_file_list=config_files, prepare=prepare_embedded
        )
        # the last line, for scripts: "ls -t saved/" would pick whichever run ended last
        print(f"checkpoint: {result['saved_model_file']}")
        return
    from recbole_irllrec.tuning.search import run_search

    # the overrides travel to the trials explicitly; Config must not also read the search flags
    sys.argv = sys.argv[:1]
    run_search(
        settings_from_args(args),
        model=args.model,
        dataset=args.dataset,
        config_file_list=config_files,
        config_dict=overrides,
        prepare=prepare_embedded,
    )


if __name__ == "__main__":
    sys.exit(main())
