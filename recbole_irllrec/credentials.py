"""Spotting credentials before RecBole stores them.

RecBole logs every config key and value, and this plugin records the config
in each checkpoint (TensorBoard gets it too): a key that reached the config is
written three times. So the config and the raw command line are checked by
name (``api-key``, ``openai_key``, ``auth``, ``tokens``...) and by value
(``sk-...``, ``hf_...``, ``Bearer ...``, long random strings), and a finding
is reported by key only: the value is never echoed.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# words that mark a key as holding a credential, after splitting on - _ . and camelCase
SECRET_WORDS = frozenset(
    {
        "apikey", "secret", "secrets", "password", "passwd", "pwd", "passphrase", "auth", "authorization",
        "credential", "credentials", "bearer", "cookie",
    }
)
# words that do so only at the end: RecBole's own keys use "token" for categorical
# features (convert_token_to_onehot), while hf_token, access_key, api-key are secrets
SECRET_LAST_WORDS = frozenset({"key", "keys", "token", "tokens", "session"})
# the plugin's own keys that end so but hold no secret (strict_keys: a bool, properties/overall.yaml)
NOT_SECRET_KEYS = frozenset({"strict_keys"})
# the shapes of common credentials, whatever key they come under
TOKEN_PATTERNS = re.compile(
    r"""
      \bsk-[A-Za-z0-9_-]{16,}             # OpenAI and compatible servers (sk-..., sk-proj-...)
    | \bhf_[A-Za-z0-9]{20,}               # Hugging Face
    | \bgh[pousr]_[A-Za-z0-9]{20,}        # GitHub
    | \bgithub_pat_[A-Za-z0-9_]{20,}
    | \bxox[abposr]-[A-Za-z0-9-]{10,}     # Slack
    | \bAKIA[0-9A-Z]{16}\b                # AWS access key id
    | \bAIza[0-9A-Za-z_-]{30,}            # Google API key
    | \beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.   # a JWT
    | \bbearer\s+\S{8,}                   # an Authorization header value
    """,
    re.IGNORECASE | re.VERBOSE,
)
# a random-looking word: long, letters and digits mixed, no path or sentence shape
MIN_RANDOM_LENGTH = 32
MIN_RANDOM_BITS = 4.2  # bits per character; hex digests (<= 4.0) and words stay below


def key_words(name: str) -> list[str]:
    """``'openaiApiKey'`` -> ``['openai', 'api', 'key']``; ``'api-key'`` -> ``['api', 'key']``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(name: str) -> bool:
    """Whether a key's name says it holds a credential."""
    if name in NOT_SECRET_KEYS:
        return False
    words = key_words(name)
    if words and (words[-1] in SECRET_LAST_WORDS or words[-1].endswith(("key", "token"))):
        return True
    return any(w in SECRET_WORDS or w.endswith(("apikey", "secret")) for w in words)


def looks_random(text: str) -> bool:
    """A long word of mixed letters and digits with a high character entropy."""
    if len(text) < MIN_RANDOM_LENGTH or not re.fullmatch(r"[A-Za-z0-9_\-+=]+", text):
        return False
    if not (re.search(r"[A-Za-z]", text) and re.search(r"[0-9]", text)):
        return False
    counts = Counter(text)
    bits = -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())
    return bits >= MIN_RANDOM_BITS


def is_token_like(value: str) -> bool:
    """Whether a value has the shape of a credential."""
    return bool(TOKEN_PATTERNS.search(value)) or any(looks_random(word) for word in value.split())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


def secret_findings(config: Mapping[str, Any]) -> list[str]:
    """The keys of ``config`` that hold, or are named like, a credential."""
    found = []
    for key, value in config.items():
        if is_secret_key(key) or any(is_token_like(s) for s in _strings(value)):
            found.append(str(key))
    return sorted(found)


def secret_arguments(argv: Iterable[str]) -> list[str]:
    """Positions (1-based, as typed) of command-line words that name or carry a credential."""
    found = []
    for position, arg in enumerate(argv, start=1):
        name, _, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", arg)
        if (name and is_secret_key(name)) or is_token_like(value):
            found.append(f"argument {position} ({'--' + name if name else 'a loose word'})")
    return found
