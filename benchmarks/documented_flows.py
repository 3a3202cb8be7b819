"""The README's documented flows, run as written, with each command's time (issue 15).

tests/test_documented_flows.py reads the commands from the README's code blocks and runs
them in a temporary folder; this runs those tests (any marked slow too) and prints how
long each command took:

    OMP_NUM_THREADS=1 python benchmarks/documented_flows.py            # every flow
    OMP_NUM_THREADS=1 python benchmarks/documented_flows.py --slow-only

It needs the shared RLMRec splits beside the repository (../shared/data/rlmrec-splits).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-only", action="store_true", help="only the flows the suite leaves out")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    marker = "slow" if args.slow_only else "slow or not slow"
    # -s shows each command's time as it finishes
    return pytest.main(["-q", "-s", "-p", "no:cacheprovider", "-m", marker, "--rootdir", str(REPO),
                        str(REPO / "tests" / "test_documented_flows.py")])


if __name__ == "__main__":
    sys.exit(main())
