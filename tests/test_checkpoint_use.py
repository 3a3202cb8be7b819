"""Using a checkpoint: where the run says it is, and which loader reads it (issue 15)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import TINY, tiny_config
from recbole_irllrec.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]


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
