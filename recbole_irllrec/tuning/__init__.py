"""Hyperparameter search with Ray Tune (``run_recbole_irllrec.py --tune``)."""
from recbole_irllrec.tuning.search import SearchOutcome, SearchSettings, run_search
from recbole_irllrec.tuning.space import SpaceError, load_space

__all__ = ["SearchOutcome", "SearchSettings", "SpaceError", "load_space", "run_search"]
