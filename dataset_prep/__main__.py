"""Command line: ``python -m dataset_prep <command> ...``.

- ``ml-100k``: prepare RecBole's bundled MovieLens-100K (split, texts, vectors).
- ``intents``: LLM-written profile and intent texts for any atomic dataset.
- ``embed``: those texts as ``.useremb`` / ``.itememb`` vectors.
- ``convert-rlmrec``: the RLMRec/IRLLRec benchmark splits (pickled sparse
  matrices, optional embedding pickles) as RecBole atomic files.

Each subcommand maps its options onto one function of the package. Bad input
ends with one ``error: ...`` line on stderr and exit status 2 (the traceback
too with ``--verbose`` / ``--debug``); Ctrl-C with one ``interrupted: ...``
line saying what was saved, and status 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from .cli_types import non_negative_float, non_negative_int, positive_float, positive_int
from .errors import InputError, Interrupted


def _ratio_list(text: str) -> list[float]:
    from .split import normalize_ratios

    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected three ratios, e.g. 0.8,0.1,0.1")
    try:
        ratios = [float(p) for p in parts]
        normalize_ratios(ratios)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return ratios


def _add_debug_flag(parser: argparse.ArgumentParser, default: object) -> None:
    # Accepted before and after the subcommand; the subcommand's copy only sets it when given.
    parser.add_argument("-v", "--verbose", "--debug", dest="verbose", action="store_true", default=default,
                        help="log debug messages and show the traceback of an error")


def build_parser() -> argparse.ArgumentParser:
    """Parser with one subcommand per supported dataset."""
    parser = argparse.ArgumentParser(prog="python -m dataset_prep", description=__doc__.splitlines()[0])
    _add_debug_flag(parser, default=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ml100k = commands.add_parser("ml-100k", help="prepare RecBole's bundled MovieLens-100K")
    ml100k.add_argument("--data-root", default="dataset", help="folder that receives ml-100k/ (default: dataset)")
    ml100k.add_argument("--seed", type=non_negative_int, default=2020, help="split seed (default: 2020)")
    ml100k.add_argument(
        "--ratios", type=_ratio_list, default=[0.8, 0.1, 0.1], help="train,valid,test (default: 0.8,0.1,0.1)"
    )
    ml100k.add_argument("--device", default=None, help="torch device for the embedder (default: automatic)")
    ml100k.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    ml100k.set_defaults(handler=_run_ml100k)

    _add_intents(commands)
    _add_embed(commands)
    _add_convert_rlmrec(commands)
    _add_cold_split(commands)
    for subparser in commands.choices.values():
        _add_debug_flag(subparser, default=argparse.SUPPRESS)
    return parser


def _run_ml100k(args: argparse.Namespace) -> None:
    # Imported here so that --help stays instant.
    from .embed import SentenceTransformerEmbedder
    from .movielens import prepare_ml100k

    embedder = SentenceTransformerEmbedder(device=args.device) if args.device else None
    folder = prepare_ml100k(args.data_root, embedder=embedder, seed=args.seed, ratios=args.ratios, force=args.force)
    print(folder)


# ------------------------------------------------------------------ intents
def _add_intents(commands: argparse._SubParsersAction) -> None:
    from .intents import IntentOptions
    from .llm.factory import BACKENDS
    from .llm.openai_chat import RESPONSE_FORMATS
    from .llm.prompts import PROMPT_SETS, TASKS

    defaults = IntentOptions()
    p = commands.add_parser(
        "intents",
        help="LLM-written profile and intent texts for a RecBole atomic dataset",
        description="Writes <name>.item.texts.jsonl and <name>.user.texts.jsonl from the training split. "
        "OpenAI-compatible servers are configured by OPENAI_BASE_URL and OPENAI_API_KEY (environment only).",
    )
    p.add_argument("folder", help="dataset folder holding <name>.train.inter (and .item/.user when present)")
    p.add_argument("--name", help="dataset name (default: the folder's name)")
    p.add_argument("--backend", choices=BACKENDS, default="offline", help="who writes the texts (default: offline)")
    p.add_argument("--model", help="model name (openai), model path or 'smollm2' (hf)")
    p.add_argument("--base-url", help="chat endpoint, overriding OPENAI_BASE_URL")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="default: all four")
    p.add_argument("--limit-items", type=non_negative_int, help="only the first N items (sorted ids)")
    p.add_argument("--limit-users", type=non_negative_int, help="only the first N users (sorted ids)")
    p.add_argument("--max-user-items", type=positive_int, default=defaults.max_user_items,
                   help="training interactions sampled into a user prompt")
    p.add_argument("--max-item-reviews", type=non_negative_int, default=defaults.max_item_reviews,
                   help="training reviews sampled into an item prompt (when the .inter has text fields)")
    p.add_argument("--max-field-chars", type=positive_int, default=defaults.max_field_chars,
                   help="longer attribute values are clipped")
    p.add_argument("--seed", type=non_negative_int, default=defaults.seed, help="sampling seed")
    p.add_argument("--concurrency", type=positive_int, default=defaults.concurrency, help="parallel requests")
    p.add_argument("--max-reasks", type=non_negative_int, default=defaults.max_reasks,
                   help="times a malformed answer is asked again before it counts as failed")
    p.add_argument("--max-retries", type=non_negative_int, default=5,
                   help="HTTP retries on 429/5xx/timeouts (openai client)")
    p.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per HTTP request")
    p.add_argument("--max-tokens", type=positive_int, default=512, help="completion token limit per answer")
    p.add_argument("--temperature", type=non_negative_float, default=0.0)
    p.add_argument("--response-format", choices=RESPONSE_FORMATS, default="json_schema",
                   help="openai: how answers are constrained; json_schema (default) steps down by itself to "
                   "llama-cpp-python's schema form, then json_object (JSON mode), then text when the server "
                   "rejects a form; every form is re-asked when an answer does not parse")
    p.add_argument("--device", help="torch device for the hf backend (default: automatic)")
    p.add_argument("--repetition-penalty", type=positive_float, default=1.0,
                   help="hf backend: >1 discourages the loops small models fall into (e.g. 1.2)")
    p.add_argument("--prompt-dir", help="folder with <task>.yaml files overriding the packaged prompts")
    p.add_argument("--prompt-set", choices=PROMPT_SETS, default="standard",
                   help="packaged prompts: standard (the paper's chain of thought) or small (one-key answers "
                   "with a prefill, for ~100M-parameter local models)")
    p.add_argument("--out-dir", help="where the texts, failure list and cache go (default: the dataset folder)")
    p.add_argument("--cache", help="answer cache (default: <out-dir>/<name>.llmcache.jsonl)")
    p.add_argument("--train-file", help="training interactions, if not <folder>/<name>.train.inter")
    p.add_argument("--user-field", default=defaults.user_field)
    p.add_argument("--item-field", default=defaults.item_field)
    p.add_argument("--rating-field", default=defaults.rating_field)
    p.add_argument("--time-field", default=defaults.time_field, help="left out of prompts")
    p.add_argument("--dry-run", action="store_true", help="print sample prompts and a token estimate; send nothing")
    p.set_defaults(handler=_run_intents)


def _run_intents(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .intents import IntentOptions, dry_run, generate_texts, summary_lines
    from .llm.factory import make_backend

    folder = Path(args.folder)
    name = args.name or folder.resolve().name
    options = IntentOptions(
        tasks=tuple(args.tasks), user_field=args.user_field, item_field=args.item_field,
        rating_field=args.rating_field, time_field=args.time_field, train_file=args.train_file,
        max_user_items=args.max_user_items, max_item_reviews=args.max_item_reviews,
        max_field_chars=args.max_field_chars, limit_items=args.limit_items, limit_users=args.limit_users,
        seed=args.seed, concurrency=args.concurrency, max_reasks=args.max_reasks, prompt_dir=args.prompt_dir,
        prompt_set=args.prompt_set, cache_path=args.cache, out_dir=args.out_dir,
    )
    if args.dry_run:
        dry_run(folder, name, options, max_tokens=args.max_tokens)
        return 0
    backend = make_backend(
        args.backend, args.model, base_url=args.base_url, temperature=args.temperature,
        max_tokens=args.max_tokens, max_retries=args.max_retries, timeout=args.timeout,
        concurrency=args.concurrency, response_format=args.response_format, device=args.device,
        repetition_penalty=args.repetition_penalty,
    )
    report = generate_texts(folder, name, backend, options)
    for line in summary_lines(report):
        print(line)
    return 1 if report.failed else 0


# -------------------------------------------------------------------- embed
def _add_embed(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "embed",
        help="embed <name>.user/item.texts.jsonl into <name>.useremb and <name>.itememb",
        description="Embeds profile and intent texts into RecBole feature files. SPEC is st:PATH_OR_HUB_NAME "
        "(sentence-transformers; st:all-MiniLM-L6-v2 is the local copy) or openai:MODEL (an OpenAI-compatible "
        "/embeddings endpoint, configured by OPENAI_BASE_URL and OPENAI_API_KEY, environment only).",
    )
    p.add_argument("folder", help="dataset folder holding the interactions; the vectors are written there")
    p.add_argument("--name", help="dataset name (default: the folder's name)")
    p.add_argument("--texts-dir", metavar="DIR",
                   help="folder holding <name>.user/item.texts.jsonl, e.g. the --out-dir of intents "
                   "(default: FOLDER); the vector cache goes there too")
    p.add_argument("--embedder", default="st:all-MiniLM-L6-v2", metavar="SPEC",
                   help="embedder of the profile texts (default: st:all-MiniLM-L6-v2)")
    p.add_argument("--intent-embedder", metavar="SPEC", help="embedder of the intent texts (default: --embedder)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="texts per request / encode call and cache append")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", help="vector cache (default: <texts-dir>/<name>.embcache.jsonl)")
    cache.add_argument("--no-cache", action="store_true", help="keep vectors in memory only")
    p.add_argument("--device", help="torch device for st: embedders (default: automatic)")
    p.add_argument("--base-url", help="embeddings endpoint for openai: embedders, overriding OPENAI_BASE_URL")
    p.add_argument("--max-retries", type=non_negative_int, default=5,
                   help="HTTP retries on 429/5xx/timeouts (openai client)")
    p.add_argument("--timeout", type=positive_float, default=60.0, help="seconds per HTTP request")
    p.add_argument("--dimensions", type=positive_int,
                   help="ask openai: embedders for vectors of this size (text-embedding-3)")
    p.add_argument("--user-field", default="user_id")
    p.add_argument("--item-field", default="item_id")
    p.set_defaults(handler=_run_embed)


def _run_embed(args: argparse.Namespace) -> int:
    from .embed_folder import embed_folder, make_embedder, summary_line
    from .llm.openai_embed import EmbeddingRequestError

    options = dict(device=args.device, batch_size=args.batch_size, base_url=args.base_url,
                   max_retries=args.max_retries, timeout=args.timeout, dimensions=args.dimensions)
    profile = make_embedder(args.embedder, **options)
    intent_spec = args.intent_embedder or args.embedder
    intent = profile if intent_spec == args.embedder else make_embedder(intent_spec, **options)
    try:
        report = embed_folder(args.folder, args.name, profile, intent, cache_path=args.cache,
                              use_cache=not args.no_cache, batch_size=args.batch_size,
                              user_field=args.user_field, item_field=args.item_field, texts_dir=args.texts_dir)
    except EmbeddingRequestError as exc:
        # Transient trouble outlived the retries: what was embedded is cached, so a re-run resumes.
        print(f"error: {exc}; vectors so far are cached: run the same command again to resume", file=sys.stderr)
        return 1
    print(summary_line(report))
    return 0


# ------------------------------------------------------------------ cold-split
def _add_cold_split(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "cold-split", help="hold a seeded share of items/users out of training (cold start), into a new folder",
        description="Copies the fixed split of SRC_DIR to OUT_DIR with every training interaction of the cold "
        "items and users moved to validation or test. Run intents and embed on OUT_DIR afterwards: texts are "
        "written from its train file, so no held-out interaction reaches a cold node's text.",
    )
    p.add_argument("src_dir", metavar="SRC_DIR", help="folder with <name>.{train,valid,test}.inter")
    p.add_argument("out_dir", metavar="OUT_DIR", help="new folder for the cold split (name it <name>)")
    p.add_argument("--name", help="file prefix (default: SRC_DIR's folder name)")
    p.add_argument("--cold-item-ratio", type=float, default=0.0)
    p.add_argument("--cold-user-ratio", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=2020)
    p.set_defaults(handler=_run_cold_split)


def _run_cold_split(args: argparse.Namespace) -> None:
    from .cold_split import cold_split_folder

    try:
        folder = cold_split_folder(args.src_dir, args.out_dir, item_ratio=args.cold_item_ratio,
                                   user_ratio=args.cold_user_ratio, seed=args.seed, name=args.name)
    except ValueError as error:
        raise InputError(str(error)) from None
    print(folder)


# ------------------------------------------------------------------ convert-rlmrec
def _add_convert_rlmrec(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "convert-rlmrec",
        help="RLMRec/IRLLRec benchmark splits (trn/val/tst_mat.pkl) as RecBole atomic files",
        description="Writes <data-root>/<name>/<name>.{train,valid,test}.inter from trn_mat.pkl, val_mat.pkl and "
        "tst_mat.pkl, and <name>.useremb/.itememb when usr_emb_np.pkl, itm_emb_np.pkl, user_intent_emb_3.pkl "
        "and item_intent_emb_3.pkl are in the embedding folder. Pickles are loaded with an allow-list "
        "(numpy arrays, scipy.sparse matrices only).",
    )
    p.add_argument("src_dir", metavar="SRC_DIR", help="folder holding trn_mat.pkl, val_mat.pkl, tst_mat.pkl")
    p.add_argument("--name", required=True, help="dataset name (folder and file prefix), e.g. amazon-book")
    p.add_argument("--data-root", default="dataset", help="folder that receives <name>/ (default: dataset)")
    p.add_argument("--emb-dir", help="folder with the embedding pickles (default: SRC_DIR)")
    p.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    p.set_defaults(handler=_run_convert_rlmrec)


def _run_convert_rlmrec(args: argparse.Namespace) -> None:
    from .rlmrec import convert_rlmrec

    folder = convert_rlmrec(args.src_dir, args.name, data_root=args.data_root, emb_dir=args.emb_dir, force=args.force)
    print(folder)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen subcommand, return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        status = args.handler(args)
    except KeyboardInterrupt as exc:
        # Ctrl-C: what was finished is on disk (caches, atomic files); say so in one line.
        if args.verbose:
            traceback.print_exc()
        print(str(exc) if isinstance(exc, Interrupted) else
              "interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        # Bad input or an unusable backend: one clear line, not a traceback (unless asked for).
        if args.verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return int(status or 0)


def _user_errors() -> tuple[type[BaseException], ...]:
    from .embed_folder import EmbeddingError
    from .llm.backend import FatalBackendError
    from .safe_pickle import UnsafePickleError

    # InputError covers every input check of the package (atomic files, texts, caches, prompts, pickles' shapes).
    return (InputError, EmbeddingError, FatalBackendError, UnsafePickleError, FileNotFoundError,
            IsADirectoryError, NotADirectoryError, PermissionError)


if __name__ == "__main__":
    sys.exit(main())
