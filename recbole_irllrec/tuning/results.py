"""What a search leaves behind: the trial table (printed and CSV) and the best config as YAML."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from ray.tune import ResultGrid

from recbole_irllrec.atomic_io import atomic_open, atomic_write_text
from recbole_irllrec.tuning.trial import TEST_PREFIX

DONE, STOPPED, ERROR = "done", "stopped early", "error"


def plain_value(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and tuples as lists (safe YAML)."""
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _trial_params(result) -> dict:
    # a trial that failed before its first report has no config in its Result;
    # Ray wrote the sampled parameters to params.json when the trial started
    params_file = Path(result.path) / "params.json"
    if params_file.is_file():
        return json.loads(params_file.read_text(encoding="utf-8"))
    return dict(result.config or {})


def _error_line(error: BaseException | None) -> str:
    if error is None:
        return ""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def trial_table(grid: ResultGrid, param_names: list[str], metric: str, mode: str) -> pd.DataFrame:
    """One row per trial: id, status, parameters, validations, best valid ``metric``,
    the test result (finished trials only) and the error (failed trials only)."""
    rows = []
    for result in grid:
        params = _trial_params(result)
        frame = result.metrics_dataframe
        scores = frame[metric].dropna() if frame is not None and metric in frame else pd.Series(dtype=float)
        validations = int(frame["epoch"].notna().sum()) if frame is not None and "epoch" in frame else 0
        test = {k: v for k, v in (result.metrics or {}).items() if k.startswith(TEST_PREFIX)}
        status = ERROR if result.error is not None else (DONE if test else STOPPED)
        row = {"trial": Path(result.path).name, "status": status}
        row.update({name: plain_value(params.get(name)) for name in param_names})
        row["validations"] = validations
        best = (scores.max() if mode == "max" else scores.min()) if len(scores) else math.nan
        row[f"best_valid_{metric}"] = plain_value(best)
        row.update({k: plain_value(v) for k, v in sorted(test.items())})
        row["error"] = _error_line(result.error)
        row["path"] = result.path
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values("trial", ignore_index=True) if len(table) else table


def best_row(table: pd.DataFrame, metric: str, mode: str) -> pd.Series | None:
    """The trial with the best validation score among those without error."""
    column = f"best_valid_{metric}"
    ok = table[(table["status"] != ERROR) & table[column].notna()] if len(table) else table
    if not len(ok):
        return None
    index = ok[column].idxmax() if mode == "max" else ok[column].idxmin()
    return table.loc[index]


def write_table(table: pd.DataFrame, path: Path) -> None:
    """The table as CSV, written atomically."""
    with atomic_open(path, "w") as handle:
        table.to_csv(handle, index=False)


def format_table(table: pd.DataFrame) -> str:
    """The table for the terminal: without paths and empty error column."""
    shown = table.drop(columns=["path"])
    if not shown["error"].astype(bool).any():
        shown = shown.drop(columns=["error"])
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def write_best_config(config: dict, header: str, path: Path) -> None:
    """``config`` as a RecBole YAML file (``--config_files``), with ``header`` as comments."""
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    body = yaml.safe_dump({k: plain_value(v) for k, v in config.items()}, sort_keys=False, allow_unicode=True)
    atomic_write_text(path, comments + body)
