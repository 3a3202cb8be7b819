"""Errors of a search that the run script reports in one line (importable without Ray)."""


class SearchFailed(RuntimeError):
    """Every trial of a search failed (the table is written all the same)."""
