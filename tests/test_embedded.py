"""The embedded default: ml-100k prepared on first use, then one epoch of
IRLLRec and LightGCN on it through the run function (stub text vectors, so no
model download or 60 s embedding run is needed)."""
import os
from pathlib import Path

import pytest

from dataset_prep.movielens import prepare_ml100k
from recbole_irllrec.config import Config
from recbole_irllrec.quick_start import run_recbole_irllrec
from test_dataset_prep import HashEmbedder


def test_ml100k_data_path_points_at_prepared_copy(tmp_path):
    config = Config(model="IRLLRec", dataset="ml-100k", config_dict={"data_path": "mydata", "gpu_id": ""})
    assert config["data_path"] == str(tmp_path / "mydata" / "ml-100k")
    assert config["benchmark_filename"] == ["train", "valid", "test"]
    assert config["normalize_all"] is False


@pytest.fixture(scope="module")
def prepared_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("embedded")
    prepare_ml100k(root, embedder=HashEmbedder())
    return root


@pytest.mark.parametrize("model", ["IRLLRec", "LightGCN"])
def test_one_epoch_on_embedded_ml100k(prepared_root, tmp_path, model):
    calls = []

    def prepare(config):
        calls.append(config["data_path"])
        prepare_ml100k(os.path.dirname(config["data_path"]), embedder=HashEmbedder())

    result = run_recbole_irllrec(
        model=model,
        dataset="ml-100k",
        config_dict={
            "data_path": str(prepared_root),
            "checkpoint_dir": str(tmp_path / "saved"),
            "gpu_id": "",
            "epochs": 1,
            "show_progress": False,
            "state": "ERROR",
        },
        prepare=prepare,
    )
    assert calls == [str(prepared_root / "ml-100k")]
    assert {"recall@10", "recall@20", "ndcg@10", "ndcg@20"} <= set(result["test_result"])
