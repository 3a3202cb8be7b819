"""``python -m recbole_irllrec {sparsity, explain, embplot, recommend} --model_file CKPT ...``:
look at a trained checkpoint (see README, "Seeing intents"), or recommend to new users
and items from their text (README, "Cold start")."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recbole_irllrec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("sparsity", help="metrics per group of users by training-interaction count")
    p.add_argument("--model_file", nargs="+", required=True, help="checkpoint(s); several are compared on the same groups")
    p.add_argument("--edges", nargs="+", type=int, help="inner count boundaries, e.g. 10 20 50 (default: quantiles)")
    p.add_argument("--groups", type=int, default=4, help="number of quantile groups without --edges (default 4)")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--metrics", nargs="+", help="metrics drawn as lines (default: all at the largest k)")
    p.add_argument("--out", default="sparsity", help="folder for sparsity.csv and sparsity.png")

    p = commands.add_parser("explain", help="a user's intent, intent prototypes and top-k items")
    p.add_argument("--model_file", required=True)
    p.add_argument("--user", required=True, help="raw user id (as in the .inter file)")
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--prototypes", type=int, default=5, help="how many intent prototypes to show")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = commands.add_parser("embplot", help="2-D density plot of interaction, profile and intent embeddings")
    p.add_argument("--model_file", required=True)
    p.add_argument("--method", choices=("pca", "tsne"), default="pca")
    p.add_argument("--sample", type=int, default=2000, help="users+items drawn (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="embeddings.png")
    p = commands.add_parser("recommend", help="top-k for a new user (or item) from its text alone")
    p.add_argument("--model_file", required=True, help="a checkpoint with a text tower (IRLLRec, RLMRecCon)")
    p.add_argument("--user-text", action="append", default=[], metavar="TEXT",
                   help="a new user's profile/intent text (repeatable; ids new-user-1, ...)")
    p.add_argument("--item-text", action="append", default=[], metavar="TEXT", help="a new item's text (repeatable)")
    p.add_argument("--input", metavar="JSON", help='{"users": [{"id", "profile", "intent"}], "items": [...]}')
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--embedder", help="embedder spec (st:PATH_OR_NAME) instead of the one the dataset recorded")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    for sub in commands.choices.values():
        sub.add_argument("--verbose", "--debug", action="store_true",
                         help="keep RecBole's log and warnings, and show the traceback of an error")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    # RecBole's Config reads --key=value from sys.argv: keep this command's flags away from it
    saved_argv, sys.argv = sys.argv, sys.argv[:1]
    with warnings.catch_warnings():
        if not args.verbose:
            # load_data_and_model re-initialises RecBole's logger at the checkpoint's
            # level; its INFO lines and pandas warnings would drown the output
            logging.disable(logging.INFO)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
        try:
            return _run(args)
        finally:
            sys.argv = saved_argv
            logging.disable(logging.NOTSET)


def _run(args) -> int:
    from recbole_irllrec.analysis.explain import UnknownUserError

    try:
        if args.command == "sparsity":
            from recbole_irllrec.analysis.sparsity import run_sparsity

            table = run_sparsity(args.model_file, args.edges, args.groups, args.split, args.out, args.metrics)
            shown = table.drop(columns=["low", "high"])
            if len(args.model_file) > 1:  # every model's every metric is too wide for a terminal; the CSV has them
                from recbole_irllrec.analysis.sparsity import plot_columns

                shown = shown[["group", "users", *plot_columns(table, args.metrics)]]
            print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
            print(f"wrote {os.path.join(args.out, 'sparsity.csv')} and {os.path.join(args.out, 'sparsity.png')}")
        elif args.command == "recommend":
            _recommend(args)
        elif args.command == "explain":
            from recbole_irllrec.analysis.explain import run_explain

            explanation = run_explain(args.model_file, args.user, args.topk, args.prototypes)
            print(explanation.to_json() if args.json else explanation.to_text())
        else:
            from recbole_irllrec.analysis.embedding_plot import run_embplot

            picture = run_embplot(args.model_file, args.out, args.method, args.sample, args.seed)
            for note in picture.notes:
                print(note)
            print(f"wrote {args.out} ({', '.join(picture.points)}; {len(picture.is_user)} users+items, {args.method})")
    except (UnknownUserError, FileNotFoundError, ValueError) as error:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _recommend(args) -> None:
    import json

    from recbole_irllrec.recommend import NewNode, read_new_nodes, recommend

    nodes = read_new_nodes(args.input) if args.input else {}
    users = nodes.get("users", []) + [NewNode(f"new-user-{k}", t, t) for k, t in enumerate(args.user_text, 1)]
    items = nodes.get("items", []) + [NewNode(f"new-item-{k}", t, t) for k, t in enumerate(args.item_text, 1)]
    if not users and not items:
        raise ValueError("nothing to recommend for: give --user-text, --item-text or --input FILE")
    results = recommend(args.model_file, users, items, args.topk, embedder=args.embedder)
    if args.json:
        print(json.dumps([{"side": r.side, "id": r.node.id, "top": [{"id": i, "score": s, "text": t} for i, s, t in r.top]}
                          for r in results], indent=2))
    else:
        print("\n\n".join(r.to_text() for r in results))


if __name__ == "__main__":
    sys.exit(main())
