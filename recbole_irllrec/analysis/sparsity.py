"""Metrics per user-sparsity group (the paper's Fig. 3).

Users are grouped by their number of training interactions; each group's
metrics come from RecBole's own :class:`~recbole.evaluator.Evaluator`, run on
the rows of that group's users in the data RecBole's trainer collects during
one ordinary full-sort evaluation. So the size-weighted mean of the group
values is RecBole's overall value, up to RecBole's rounding.
"""
from __future__ import annotations

import copy
import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.evaluator import Evaluator
from recbole.evaluator.collector import DataStruct

from recbole_irllrec.analysis.output import save_figure
from recbole_irllrec.atomic_io import atomic_write_text
from recbole_irllrec.checkpoint import require_file
from recbole_irllrec.utils import get_trainer

# data-struct entries with one row per evaluated user (see recbole.evaluator.collector)
ROW_KEYS = ("rec.topk", "rec.meanrank", "rec.items")


@dataclass
class Group:
    """Users whose training-interaction count lies in ``[low, high)`` (``high`` None: no bound)."""

    low: int
    high: int | None
    users: np.ndarray  # internal user ids

    @property
    def label(self) -> str:
        return f"[{self.low}, {'inf' if self.high is None else self.high})"


def training_counts(train_data) -> np.ndarray:
    """Training interactions per internal user id (index = id, padding 0 included)."""
    dataset = train_data._dataset
    users = dataset.inter_feat[dataset.uid_field].numpy()
    return np.bincount(users, minlength=dataset.user_num)


def group_edges(counts: np.ndarray, n_groups: int = 4) -> list[int]:
    """Inner count boundaries splitting ``counts`` into ``n_groups`` near-equal groups.

    Boundaries are observed counts, so users with equal counts stay together;
    with many ties fewer (never empty) groups come out.
    """
    if n_groups < 1:
        raise ValueError(f"n_groups must be >= 1, got {n_groups}")
    quantiles = np.quantile(counts, np.arange(1, n_groups) / n_groups, method="higher")
    return sorted({int(q) for q in quantiles if q > counts.min()})


def make_groups(users: np.ndarray, counts: np.ndarray, edges: list[int] | None = None, n_groups: int = 4) -> list[Group]:
    """Partition ``users`` (internal ids) by ``counts[user]``.

    ``edges`` are the inner boundaries, e.g. ``[10, 20, 50]`` gives
    ``[0, 10) [10, 20) [20, 50) [50, inf)``; without them the boundaries are
    quantiles of the users' counts (:func:`group_edges`) and the outer bounds
    are the smallest and largest count. Every user lands in exactly one group.
    """
    users = np.asarray(users)
    user_counts = counts[users]
    if edges is None:
        edges = group_edges(user_counts, n_groups)
        low, high = int(user_counts.min()), int(user_counts.max()) + 1
    else:
        edges = [int(e) for e in edges]
        if any(b <= a for a, b in zip(edges, edges[1:])) or (edges and edges[0] <= 0):
            raise ValueError(f"edges must be positive and strictly increasing, got {edges}")
        low, high = 0, None
    index = np.searchsorted(np.asarray(edges, dtype=np.int64), user_counts, side="right")
    bounds = [low, *edges, high]
    return [Group(bounds[k], bounds[k + 1], users[index == k]) for k in range(len(bounds) - 1)]


class _KeepingEvaluator(Evaluator):
    """RecBole's evaluator that keeps the last data struct it evaluated."""

    struct: DataStruct | None = None

    def evaluate(self, dataobject: DataStruct):
        self.struct = dataobject
        return super().evaluate(dataobject)


class _RowRecorder:
    """Trainer mixin: remembers which user each evaluated row belongs to and
    the data struct RecBole's collector hands to the evaluator."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self.row_users: list[torch.Tensor] = []
        self.evaluator = _KeepingEvaluator(config)

    def _full_sort_batch_eval(self, batched_data):
        out = super()._full_sort_batch_eval(batched_data)
        self.row_users.append(out[0][self.config["USER_ID_FIELD"]].cpu())
        return out


class _NoTensorBoard:
    """Stands in for RecBole's SummaryWriter: evaluation records nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextmanager
def _without_tensorboard():
    """RecBole's Trainer opens a TensorBoard writer when it is built (a folder and an
    event file under ./log_tensorboard/); the evaluation-only trainer here gets none."""
    import recbole.trainer.trainer as recbole_trainer

    real = recbole_trainer.get_tensorboard
    recbole_trainer.get_tensorboard = lambda logger: _NoTensorBoard()
    try:
        yield
    finally:
        recbole_trainer.get_tensorboard = real


@dataclass
class PerUserEvaluation:
    """One full-sort evaluation kept per row: ``users[r]`` is the user of row ``r``."""

    users: np.ndarray
    struct: DataStruct
    overall: dict
    evaluator: Evaluator

    def evaluate(self, users: np.ndarray) -> dict:
        """RecBole's metrics over the rows of ``users`` only (NaN for no user)."""
        rows = np.isin(self.users, users)
        if not rows.any():
            return {key: float("nan") for key in self.overall}
        subset = DataStruct()
        for key, value in self.struct._data_dict.items():
            subset.set(key, value[torch.from_numpy(rows)] if key in ROW_KEYS else copy.deepcopy(value))
        return dict(self.evaluator.evaluate(subset))


def evaluate_per_user(config, model, train_data, eval_data) -> PerUserEvaluation:
    """Evaluate ``model`` on ``eval_data`` with RecBole's trainer, keeping each row's user."""
    if not isinstance(eval_data, FullSortEvalDataLoader):
        raise ValueError(
            "sparsity groups need full-sort evaluation (eval_args mode 'full'); "
            f"this checkpoint evaluates with {type(eval_data).__name__}"
        )
    base = get_trainer(config["MODEL_TYPE"], config["model"])
    with _without_tensorboard():
        trainer = type(f"RowRecording{base.__name__}", (_RowRecorder, base), {})(config, model)
    trainer.eval_collector.data_collect(train_data)  # what fit() does first (item counts for coverage metrics)
    overall = trainer.evaluate(eval_data, load_best_model=False)
    users = torch.cat(trainer.row_users).numpy()
    return PerUserEvaluation(users, trainer.evaluator.struct, dict(overall), Evaluator(config))


def group_table(groups: list[Group], evaluations: dict[str, PerUserEvaluation]) -> pd.DataFrame:
    """One row per group plus ``all``: label, bounds, #users and every metric
    (columns ``<name>:<metric>`` when several models are compared)."""
    several = len(evaluations) > 1
    rows = []
    for group in groups:
        row = {"group": group.label, "low": group.low, "high": group.high, "users": len(group.users)}
        for name, evaluation in evaluations.items():
            for metric, value in evaluation.evaluate(group.users).items():
                row[f"{name}:{metric}" if several else metric] = value
        rows.append(row)
    total = {"group": "all", "low": None, "high": None, "users": int(sum(len(g.users) for g in groups))}
    for name, evaluation in evaluations.items():
        for metric, value in evaluation.overall.items():
            total[f"{name}:{metric}" if several else metric] = value
    rows.append(total)
    return pd.DataFrame(rows).astype({"low": "Int64", "high": "Int64"})  # integer bounds despite the empty ones


# lines against the light-blue bars; the styles tell a model's metrics apart
MODEL_COLOURS = ("#d62728", "#1f4e9c", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
METRIC_STYLES = ("-", "--", ":", "-.")


def draw_groups(table: pd.DataFrame, metrics: list[str], title: str = ""):
    """Bars: users per group (left axis); lines: ``metrics`` per group (right axis)."""
    import matplotlib.pyplot as plt

    groups = table[table["group"] != "all"]
    x = np.arange(len(groups))
    figure, bars = plt.subplots(figsize=(6.4, 3.8))
    bars.bar(x, groups["users"], color="#c9d6e8", edgecolor="#7d93b2", label="#users")
    bars.set_ylabel("#users")
    bars.set_xlabel("training interactions per user")
    bars.set_xticks(x, groups["group"])
    lines = bars.twinx()
    # a colour per model, a line style and marker per metric: models compare at a glance
    models = list(dict.fromkeys(column.rpartition(":")[0] for column in metrics))
    kinds = list(dict.fromkeys(column.rpartition(":")[2] for column in metrics))
    for column in metrics:
        model, _, metric = column.rpartition(":")
        k = kinds.index(metric)
        lines.plot(
            x, groups[column], color=MODEL_COLOURS[models.index(model) % len(MODEL_COLOURS)],
            linestyle=METRIC_STYLES[k % len(METRIC_STYLES)], marker="os^Dv"[k % 5], label=column,
        )
    lines.set_ylabel("metric")
    lines.set_ylim(bottom=0)
    handles = bars.get_legend_handles_labels()[0] + lines.get_legend_handles_labels()[0]
    # below the axes: inside, the legend would hide the sparsest group's points
    lines.legend(
        handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.2),
        ncol=min(3, len(handles)), fontsize=8, frameon=False,
    )
    if title:
        bars.set_title(title, fontsize=10)
    return figure


def plot_groups(table: pd.DataFrame, metrics: list[str], path: str, title: str = "") -> None:
    """:func:`draw_groups`, saved as a PNG at ``path``."""
    save_figure(draw_groups(table, metrics, title), path)


def default_plot_metrics(table: pd.DataFrame) -> list[str]:
    """Every metric column at the largest cut-off (e.g. recall@20, ndcg@20)."""
    columns = [c for c in table.columns if "@" in c]
    if not columns:
        return [c for c in table.columns if c not in ("group", "low", "high", "users")]
    top = max(int(c.rsplit("@", 1)[1]) for c in columns)
    return [c for c in columns if c.endswith(f"@{top}")]


def model_names(configs: list, files: list[str]) -> list[str]:
    """Unique column names: the model name, with the checkpoint's file stem when
    the name repeats, and a position when even that repeats."""
    names = [c["model"] for c in configs]
    names = [
        f"{n}({os.path.splitext(os.path.basename(f))[0]})" if names.count(n) > 1 else n for n, f in zip(names, files)
    ]
    return [f"{n}#{k + 1}" if names.count(n) > 1 else n for k, n in enumerate(names)]


def plot_columns(table: pd.DataFrame, metrics: list[str] | None) -> list[str]:
    """Table columns to draw: ``metrics`` (plain names match every model's column) or the default."""
    if not metrics:
        return default_plot_metrics(table)
    columns = []
    for metric in metrics:
        found = [c for c in table.columns if c == metric.lower() or c.endswith(":" + metric.lower())]
        if not found:
            raise ValueError(f"metric {metric!r} is not in the table; columns: {list(table.columns[4:])}")
        columns += found
    return columns


def run_sparsity(
    model_files: list[str],
    edges: list[int] | None = None,
    n_groups: int = 4,
    split: str = "test",
    out_dir: str | None = None,
    metrics: list[str] | None = None,
) -> pd.DataFrame:
    """Group the users of the first checkpoint and evaluate every checkpoint per group.

    Writes ``sparsity.csv`` and ``sparsity.png`` under ``out_dir`` if given.
    Several checkpoints must share the dataset and split (same users, same counts).
    """
    from recbole_irllrec.quick_start import load_data_and_model

    for model_file in model_files:  # every one, before minutes go into loading the first
        require_file(model_file)
    configs, loaded, counts, users = [], [], None, None
    for model_file in model_files:
        config, model, _, train_data, valid_data, test_data = load_data_and_model(model_file)
        evaluation = evaluate_per_user(config, model, train_data, test_data if split == "test" else valid_data)
        if counts is None:
            counts, users = training_counts(train_data), np.unique(evaluation.users)
        elif not (
            np.array_equal(training_counts(train_data), counts) and np.array_equal(np.unique(evaluation.users), users)
        ):
            raise ValueError(f"{model_file} has other users or training data than {model_files[0]}; compare like with like")
        configs.append(config)
        loaded.append(evaluation)
    groups = make_groups(users, counts, edges, n_groups)
    evaluations = dict(zip(model_names(configs, model_files), loaded))
    table = group_table(groups, evaluations)
    if out_dir:
        atomic_write_text(os.path.join(out_dir, "sparsity.csv"), table.to_csv(index=False))
        title = f"{configs[0]['dataset']} ({split}): " + " vs ".join(evaluations)
        plot_groups(table, plot_columns(table, metrics), os.path.join(out_dir, "sparsity.png"), title)
    return table
