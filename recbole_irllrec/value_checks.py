"""A user's setting of the wrong type or outside its choices, refused when the Config is built.

RecBole types nothing: ``--epochs=abc`` stays the string ``'abc'`` and the run
fails in the trainer after the config dump and the data loading;
``--backbone=Foo`` fails when the model is built. Here the expected type comes
from the key's defaults in the property files (:func:`known_keys.default_kinds`)
and the allowed values from the code that reads the key.
"""
from __future__ import annotations

from typing import Callable

from recbole_irllrec.known_keys import closest_name, default_kinds
from recbole_irllrec.model.alignment import SCOPES
from recbole_irllrec.model.backbones import BACKBONES
from recbole_irllrec.model.backbones.contrast import FORMS

# keys read as one of a few names, with the names their readers accept
CHOICES: dict[str, tuple[str, ...]] = {
    "backbone": tuple(sorted(BACKBONES)),
    "sgl_form": FORMS,
    "simgcl_form": FORMS,
    "candidate_scope": SCOPES,
    "align_scope": SCOPES,
    "reg_scope": SCOPES,
}

# keys with a lower bound (checked once the type is right)
AT_LEAST: dict[str, tuple[int, str]] = {"threads": (0, "0 (torch's default) or more")}

_KINDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "bool": ("True or False", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
}


def value_problem(key: str, value: object, default: object) -> str | None:
    """What is wrong with ``value`` for ``key`` (``default``: the property
    files' value, shown as an example), or None if nothing is."""
    if key in CHOICES:
        allowed = CHOICES[key]
        if value in allowed:
            return None
        close = closest_name(str(value), allowed)
        hint = f"; did you mean {close}?" if close else ""
        return f"expected one of {', '.join(allowed)}{hint}"
    kind = default_kinds().get(key)
    if kind is None:
        return None
    expected, accepts = _KINDS[kind]
    if not accepts(value):
        return f"expected {expected} (default: {default!r})"
    if key in AT_LEAST and value < AT_LEAST[key][0]:
        return f"expected {AT_LEAST[key][1]}"
    return None


def first_problem(values: dict, defaults: dict, source_of: Callable[[str], str | None]) -> str | None:
    """One line for the first of the user's ``values`` of the wrong type or
    outside its choices, naming the key, the value, the layer that set it and
    what is allowed; None if every value is fine."""
    for key, value in values.items():
        problem = value_problem(key, value, defaults.get(key))
        if problem is not None:
            return f"{key} = {value!r} (from {source_of(key)}) is not allowed: {problem}"
    return None
