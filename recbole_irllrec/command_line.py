"""The config keys of the run script's command line: ``--key=value`` words only.

RecBole's Config reads ``--key=value`` words from ``sys.argv`` and drops any
other word with one easily missed log line, so ``--epochs 1`` trained for the
default 300 epochs. Every word argparse left over must be a ``--key=value``;
anything else is refused before any work is done.
"""
from __future__ import annotations

from recbole_irllrec.config import ConfigError


def config_words(words: list[str]) -> dict[str, str]:
    """``words`` (``--key=value`` each) as ``{key: value}``, the values as
    given (Config converts them). Raises :class:`ConfigError` naming the first
    word RecBole would not read, with the spelling it would."""
    values = {}
    for index, word in enumerate(words):
        key, sep, value = word[2:].partition("=") if word.startswith("--") else ("", "", "")
        if key and not sep:
            following = words[index + 1] if index + 1 < len(words) else None
            if following is not None and not following.startswith("-"):
                raise ConfigError(
                    f"'{word} {following}': a config key takes its value after '=': write {word}={following}"
                )
            raise ConfigError(f"'{word}' has no value: config keys are written --key=value")
        if not key:
            raise ConfigError(f"unexpected argument '{word}': config keys are written --key=value")
        if "=" in value:
            raise ConfigError(f"'{word}': a config key takes one '=' (RecBole would not read it)")
        values[key] = value
    return values
