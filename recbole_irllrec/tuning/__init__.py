"""Hyperparameter search with Ray Tune (``run_recbole_irllrec.py --tune``).

:mod:`.search` (``run_search``, ``SearchSettings``), :mod:`.space` (``load_space``),
:mod:`.trial`, :mod:`.results`, :mod:`.errors`; :mod:`.cli` holds the options and imports no Ray,
since the run script parses them on every run.
"""
