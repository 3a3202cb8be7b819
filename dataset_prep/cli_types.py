"""``type=`` functions for argparse: counts and durations are checked where they are parsed.

argparse turns an ``ArgumentTypeError`` into ``argument --flag: <message>``
and exit status 2, so a negative count never reaches the code that uses it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _checked(convert: Callable[[str], float], ok: Callable[[float], bool], rule: str) -> Callable[[str], Any]:
    def parse(text: str):
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return parse


# 0 means none: no re-asks, no retries, no reviews
non_negative_int = _checked(_int, lambda v: v >= 0, "0 or more")
# a size or a count that must allow some work
positive_int = _checked(_int, lambda v: v >= 1, "1 or more")
# seconds, penalties
positive_float = _checked(_float, lambda v: v > 0, "more than 0")
# temperature
non_negative_float = _checked(_float, lambda v: v >= 0, "0 or more")
