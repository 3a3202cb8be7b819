"""Third-party warnings that tell a user nothing, silenced where a run starts.

RecBole 1.2.1 on this stack warns on every run about its own calls (pandas'
chained ``fillna(inplace=True)``, ``torch.cuda.amp.GradScaler``,
``torch.sparse.FloatTensor``), and Ray 2.6
about importing ``pkg_resources``, once per worker process. None is the user's
to fix. The entry points (the run script, a search trial) call
:func:`silence_known_warnings`; importing the library changes no filter.
"""
from __future__ import annotations

import os
import warnings

# (message regex, category, module regex) as warnings.filterwarnings takes them
KNOWN = (
    # RecBole's calls of pandas and torch APIs that will change (its own code, fixed upstream after 1.2.1)
    ("", FutureWarning, r"recbole\."),
    # RecBole's LightGCN, NGCF, ... build their graphs with torch.sparse.FloatTensor
    (r"torch\.sparse\.SparseTensor\(indices, values, shape", UserWarning, r"recbole\."),
    # ray 2.6.3 imports pkg_resources, which setuptools deprecates
    ("pkg_resources is deprecated as an API", UserWarning, ""),
)
# the same for the processes Ray starts (they warn while importing ray, before any code of ours runs)
CHILD_FILTERS = ("ignore:pkg_resources is deprecated as an API:UserWarning",)


def silence_known_warnings() -> None:
    """Ignore :data:`KNOWN` here, and the import-time ones in the processes this one starts."""
    for message, category, module in KNOWN:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    inherited = [entry for entry in os.environ.get("PYTHONWARNINGS", "").split(",") if entry]
    os.environ["PYTHONWARNINGS"] = ",".join(inherited + [f for f in CHILD_FILTERS if f not in inherited])
