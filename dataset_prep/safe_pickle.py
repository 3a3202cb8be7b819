"""Loading numpy / scipy.sparse pickles without running arbitrary code.

A pickle names the callables it needs ("globals") and the loader imports and
calls them, so ``pickle.load`` on a downloaded file can run anything. The
RLMRec/IRLLRec data (``trn_mat.pkl``, ``usr_emb_np.pkl`` ...) only needs a few
numpy and scipy.sparse constructors; :func:`load_pickle` admits exactly those
and refuses every other global with :class:`UnsafePickleError`, before it is
imported or called.

Admitted (every spelling numpy 1.x, numpy 2.x and scipy >= 1.8 / older write):

- ``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray._reconstruct``
  and ``.scalar`` (protocols 2-4), ``numpy.core.numeric._frombuffer``
  (protocol 5), also as ``numpy._core.*``;
- ``scipy.sparse`` ``coo_matrix``, ``csr_matrix``, ``csc_matrix`` (as
  ``scipy.sparse._coo`` / ``._csr`` / ``._csc`` and ``scipy.sparse.coo`` ...);
- ``_codecs.encode`` restricted to latin-1, which protocol-2 numpy pickles use
  to carry raw bytes. No other builtin is needed (checked on the real files).

Sparse matrices pickled with the ancient protocols 0/1 need
``copyreg._reconstructor`` and ``builtins.object`` and are refused; numpy
arrays load under every protocol. Plain containers (lists, dicts, numbers)
need no global and load as they are; callers check the type they get.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list, or is not a pickle we can read."""


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol 2 stores a numpy buffer as `_codecs.encode(<str>, "latin1")`; nothing else is allowed.
    if codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is not allowed (only latin-1)")
    return codecs.encode(obj, "latin-1", errors)


def _numpy_core(module: str, name: str) -> Callable[[], Any]:
    """``numpy.core.<module>.<name>`` under the spelling this numpy uses (``numpy._core`` from 2.0)."""

    def resolve() -> Any:
        package = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return resolve


def _sparse(name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        import scipy.sparse

        return getattr(scipy.sparse, name)

    return resolve


def _build_allow_list() -> dict[tuple[str, str], Callable[[], Any]]:
    allowed: dict[tuple[str, str], Callable[[], Any]] = {
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("_codecs", "encode"): lambda: _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _numpy_core("multiarray", "_reconstruct")
        allowed[(f"{core}.multiarray", "scalar")] = _numpy_core("multiarray", "scalar")
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_core("numeric", "_frombuffer")
    for short in ("coo", "csr", "csc"):
        cls = f"{short}_matrix"
        for module in (f"scipy.sparse._{short}", f"scipy.sparse.{short}"):
            allowed[(module, cls)] = _sparse(cls)
    return allowed


ALLOWED_GLOBALS = _build_allow_list()


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise UnsafePickleError(
                f"{self.source}: refused to load global '{module}.{name}'; only numpy arrays and "
                "scipy.sparse coo/csr/csc matrices are accepted (the file may be malicious or of another kind)"
            )
        return resolve()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: persistent ids are not allowed in a data pickle")


def load_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; every failure names the file."""
    source = str(path)
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, source).load()
        except UnsafePickleError as exc:
            if str(exc).startswith(source):
                raise
            raise UnsafePickleError(f"{source}: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise UnsafePickleError(f"{source}: not a readable numpy/scipy pickle ({type(exc).__name__}: {exc})") from exc
