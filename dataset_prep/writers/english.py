"""Small English helpers shared by the text writers."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+), (?P<article>The|A|An|La|Le|Les|Il|L'|El|Das|Der|Die)$")
_TRAILING_ALIAS = re.compile(r"\s*\([^()]*\)$")


def join_words(words: Sequence[str], conjunction: str = "and") -> str:
    """``['a']`` -> ``'a'``, ``['a', 'b', 'c']`` -> ``'a, b and c'``."""
    words = list(words)
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def indefinite(phrase: str) -> str:
    """Prefix 'a' or 'an' by the sound of the first word (letters or a number such as '18')."""
    first = phrase.split(" ", 1)[0].split("-", 1)[0]
    if first.isdigit():
        vowel_sound = first.startswith("8") or first in ("11", "18")
    else:
        vowel_sound = first[:1].lower() in ("a", "e", "i", "o", "u")
    return ("an " if vowel_sound else "a ") + phrase


def capitalize_first(text: str) -> str:
    """Upper-case only the first character (str.capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def tidy_title(raw: str) -> str:
    """'Horseman on the Roof, The (Hussard sur le toit, Le)' -> 'The Horseman on the Roof'.

    MovieLens appends alternative titles in parentheses and moves articles
    to the end; both make texts longer and harder to read.
    """
    title = raw.strip()
    shorter = _TRAILING_ALIAS.sub("", title)
    if shorter:
        title = shorter
    match = _TRAILING_ARTICLE.match(title)
    if match:
        article = match.group("article")
        title = f"{article}{'' if article.endswith(chr(39)) else ' '}{match.group('body')}"
    return title


def quote_titles(titles: Sequence[str]) -> str:
    """Join titles in double quotes: '"A", "B" and "C"'."""
    return join_words([f'"{t}"' for t in titles])
