"""Shared fixtures: a tiny RecBole dataset with text features, made per test."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX  # noqa: E402

TINY = "tiny"
# the read-only data beside the repository (../shared/data), never copied into it
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """``../shared/data/<parts>``, found relative to the repository. Missing, the
    calling test fails under ``CI=true`` (CI must not pass by skipping what it
    cannot see) and is skipped elsewhere."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing (the shared data beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _vec(v) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def write_tiny_dataset(
    root: Path,
    name: str = TINY,
    n_users: int = 30,
    n_items: int = 40,
    per_user: int = 10,
    profile_dim: int = 8,
    intent_dim: int = 12,
    seed: int = 0,
) -> Path:
    """Interactions split into train/valid/test files plus ``.useremb`` and
    ``.itememb`` with random vectors; raw ids are ``u<k>`` and ``i<k>``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    header = "user_id:token\titem_id:token\n"
    splits = {"train": [], "valid": [], "test": []}
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user, replace=False)
        for k, i in enumerate(items):
            part = "train" if k < per_user - 2 else ("valid" if k == per_user - 2 else "test")
            splits[part].append(f"u{u}\ti{i}\n")
    used_items = sorted({int(line.split("\t")[1][1:]) for rows in splits.values() for line in rows})
    for part, rows in splits.items():
        (folder / f"{name}.{part}.inter").write_text(header + "".join(rows))
    for suffix, ids in ((USER_SUFFIX, [f"u{u}" for u in range(n_users)]), (ITEM_SUFFIX, [f"i{i}" for i in used_items])):
        (id_p, val_p), (id_i, val_i) = FILE_LAYOUT[suffix]
        lines = [f"{id_p}:token\t{id_i}:token\t{val_p}:float_seq\t{val_i}:float_seq\n"]
        for raw in ids:
            lines.append(f"{raw}\t{raw}\t{_vec(rng.normal(size=profile_dim))}\t{_vec(rng.normal(size=intent_dim))}\n")
        (folder / f"{name}.{suffix}").write_text("".join(lines))
    return folder


def tiny_config(data_root: Path, tmp_path: Path, **overrides) -> dict:
    """Config dict for the tiny dataset: CPU, one quick epoch, outputs in tmp."""
    config = {
        "data_path": str(data_root),
        "checkpoint_dir": str(tmp_path / "saved"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {
            "inter": ["user_id", "item_id"],
            USER_SUFFIX: [c for pair in FILE_LAYOUT[USER_SUFFIX] for c in pair],
            ITEM_SUFFIX: [c for pair in FILE_LAYOUT[ITEM_SUFFIX] for c in pair],
        },
        "additional_feat_suffix": [USER_SUFFIX, ITEM_SUFFIX],
        "alias_of_user_id": [FILE_LAYOUT[USER_SUFFIX][0][0], FILE_LAYOUT[USER_SUFFIX][1][0]],
        "alias_of_item_id": [FILE_LAYOUT[ITEM_SUFFIX][0][0], FILE_LAYOUT[ITEM_SUFFIX][1][0]],
        "preload_weight": {id_col: val for s in (USER_SUFFIX, ITEM_SUFFIX) for id_col, val in FILE_LAYOUT[s]},
        "gpu_id": "",
        "use_gpu": False,
        "epochs": 1,
        "eval_step": 1,
        "train_batch_size": 64,
        "eval_batch_size": 4096,
        "show_progress": False,
        "state": "ERROR",
        "metrics": ["Recall", "NDCG"],
        "topk": [10, 20],
        "valid_metric": "NDCG@20",
        "reproducibility": True,
    }
    config.update(overrides)
    return config


def train_tiny_irllrec(root: Path, **overrides) -> str:
    """Train IRLLRec for one epoch on the tiny dataset already written under
    ``root / "data"``, with log/ and saved/ under ``root`` (for module-scoped
    fixtures, outside the per-test argv and working-directory fixture); returns
    the checkpoint's path."""
    from recbole_irllrec.quick_start import run_recbole_irllrec

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["pytest"])
        patch.chdir(root)
        result = run_recbole_irllrec(model="IRLLRec", dataset=TINY, config_dict=tiny_config(root / "data", root, **overrides))
    return result["saved_model_file"]


def count_backbone_calls(monkeypatch, encoder) -> dict:
    """Count ``encoder.backbone_loss`` calls and, for SGL, view resamplings."""
    calls = {"loss": 0, "resample": 0}
    real_loss = encoder.backbone_loss

    def counted_loss(self, *args):
        calls["loss"] += 1
        return real_loss(self, *args)

    monkeypatch.setattr(encoder, "backbone_loss", counted_loss)
    if hasattr(encoder, "resample"):
        real_resample = encoder.resample

        def counted_resample(self):
            calls["resample"] += 1
            real_resample(self)

        monkeypatch.setattr(encoder, "resample", counted_resample)
    return calls


@pytest.fixture(autouse=True)
def _clean_argv(monkeypatch, tmp_path):
    # RecBole's Config reads --key=value from sys.argv; keep pytest's flags out,
    # and keep log/ and saved/ out of the checkout
    monkeypatch.setattr(sys, "argv", ["pytest"])
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    root = tmp_path / "data"
    write_tiny_dataset(root)
    return root


METRICS = {"recall@10", "recall@20", "ndcg@10", "ndcg@20"}  # tiny_config's topk [10, 20]


def model_config_batch(data_root: Path, tmp_path: Path, model: str, **overrides):
    """``(config, model, first training batch)`` of ``model`` on the tiny dataset."""
    from recbole.data import data_preparation

    from recbole_irllrec.config import Config
    from recbole_irllrec.quick_start import create_dataset
    from recbole_irllrec.utils import get_model

    config = Config(model=model, dataset=TINY, config_dict=tiny_config(data_root, tmp_path, **overrides))
    train_data, _, _ = data_preparation(config, create_dataset(config))
    return config, get_model(model)(config, train_data._dataset), next(iter(train_data))


def bpr_plus_kd(model, batch, kd_weight: float, all_user_candidates: bool = True, size: int | None = None):
    """BPR over the whole batch plus ``kd_weight`` x the reference's profile
    InfoNCE group over its first ``size`` triples, written out by hand: users
    against all users (or the batch's distinct users), items against the batch's
    positives / negatives, temperature 0.2, divided by the number of triples."""
    from recbole_irllrec.model import losses

    user_e, item_e = model.forward()
    u, i, j = batch["user_id"], batch["item_id"], batch["neg_item_id"]
    bpr = losses.bpr_loss((user_e[u] * item_e[i]).sum(-1), (user_e[u] * item_e[j]).sum(-1))
    text = model.profile_alignment.text()
    t_users, t_items = text[: model.n_users], text[model.n_users :]
    u, i, j = u[:size], i[:size], j[:size]
    candidates = t_users[1:] if all_user_candidates else t_users[u.unique()]
    kd = (
        losses.info_nce_sum(user_e[u], t_users[u], candidates, 0.2)
        + losses.info_nce_sum(item_e[i], t_items[i], t_items[i], 0.2)
        + losses.info_nce_sum(item_e[j], t_items[j], t_items[j], 0.2)
    ) / len(u)
    return bpr + kd_weight * kd
