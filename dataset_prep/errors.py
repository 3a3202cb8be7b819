"""The two exceptions the command line turns into one line instead of a traceback.

:class:`InputError` is the base of every "this input cannot be used" error of
the package (the message names the file, and the line and column where there
is one); ``python -m dataset_prep`` prints ``error: <message>`` and exits 2.
:class:`Interrupted` is Ctrl-C with a one-line account of what was saved.
"""

from __future__ import annotations


class InputError(ValueError):
    """A file, folder or option cannot be used as it is; the message says where and why."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying a one-line summary of what was saved (still a KeyboardInterrupt for callers)."""
