"""Using a checkpoint: where the run says it is, and which loader reads it (issue 15)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import TINY, tiny_config, train_tiny_irllrec, write_tiny_dataset
from recbole_irllrec.checkpoint import LOADER, load_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("checkpoint_use")
    write_tiny_dataset(root / "data")
    return train_tiny_irllrec(root)


def test_the_run_script_ends_with_the_checkpoint_path(tiny_data, tmp_path):
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    run = subprocess.run(
        [sys.executable, str(REPO / "run_recbole_irllrec.py"), "--model=BPR", f"--dataset={TINY}",
         f"--config_files={settings}"],
        cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("checkpoint: ")]
    assert line == lines[-1]  # the last word of the run, for `sed -n 's/^checkpoint: //p'`
    path = Path(line.removeprefix("checkpoint: "))
    assert path.parent == tmp_path / "saved" and path.name.startswith("BPR-")
    assert load_checkpoint(path)["config"]["model"] == "BPR"


def test_recboles_loader_fails_and_the_checkpoint_names_the_one_that_reads_it(checkpoint):
    # RecBole's loader expects its pickled Config; here the config is plain data, so it
    # stops at its first lookup. The record names the loader to use instead.
    from recbole.quick_start import load_data_and_model as recbole_load

    with pytest.raises(KeyError, match="seed"):
        recbole_load(checkpoint)
    record = torch.load(checkpoint, weights_only=True)["config"]
    assert record["load_with"] == LOADER == "recbole_irllrec.quick_start.load_data_and_model"
    module, name = LOADER.rsplit(".", 1)
    config, model, *_ = getattr(importlib.import_module(module), name)(checkpoint)
    assert config["model"] == "IRLLRec" and config["seed"] == record["final"]["seed"]


def test_a_checkpoint_without_the_loader_name_still_loads(checkpoint, tmp_path):
    from recbole_irllrec.quick_start import load_data_and_model

    older = torch.load(checkpoint, weights_only=True)
    del older["config"]["load_with"]
    torch.save(older, tmp_path / "older.pth")
    config, *_ = load_data_and_model(str(tmp_path / "older.pth"))
    assert config["model"] == "IRLLRec"
