"""A new user's mistakes end in one line that names them, before any work (issue 15).

Each case runs the run script as a user would, in an empty folder with
data_path and checkpoint_dir inside it: the script must exit 2 with exactly one
``error:`` line on stderr, print nothing else, and create nothing (no embedded
dataset built, no log/, no saved/), i.e. refuse before the config is logged or
any data is loaded.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN_SCRIPT = REPO / "run_recbole_irllrec.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
# importing RecBole takes ~6 s on a quiet machine; loading ml-100k and one epoch take far longer
FAST_S = 120


def refused(tmp_path: Path, *args: str, data_path: Path | None = None) -> str:
    """Run the script with ``args`` in a new folder under ``tmp_path`` (data_path and checkpoint_dir
    inside it unless ``data_path`` is given); assert it refused up front and return its one line."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    argv = [sys.executable, str(RUN_SCRIPT), *args, f"--data_path={data_path or work / 'data'}", f"--checkpoint_dir={work / 'saved'}"]
    done = subprocess.run(argv, cwd=work, env=ENV, capture_output=True, text=True, timeout=FAST_S)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: ")
    assert list(work.iterdir()) == [], "something was created before the refusal"
    return lines[0]


def test_unknown_model_suggests_the_closest_and_lists_the_models(tmp_path):
    line = refused(tmp_path, "--model=IRLLRek")
    assert "unknown model 'IRLLRek'; did you mean IRLLRec?" in line
    for name in ("IRLLRec", "RLMRecCon", "GraphCF", "DCCF", "BPR", "LightGCN", "SGL", "NCL"):
        assert f" {name}," in line or f" {name};" in line or line.endswith(f" {name}"), name
    # RecBole's XGBoost / LightGBM need libraries that are not installed: not offered
    assert "lightgbm" not in line.lower() and "xgboost" not in line.lower()


def test_model_name_in_the_wrong_case_is_suggested(tmp_path):
    assert "did you mean LightGCN?" in refused(tmp_path, "--model=lightgcn")


def test_bad_backbone_names_the_allowed_ones(tmp_path):
    line = refused(tmp_path, "--backbone=Foo")
    assert line == (
        "error: backbone = 'Foo' (from command line) is not allowed: "
        "expected one of BIGCF, DCCF, LightGCN, SGL, SimGCL"
    )


def test_a_string_where_an_integer_belongs(tmp_path):
    line = refused(tmp_path, "--epochs=abc")
    assert line == "error: epochs = 'abc' (from command line) is not allowed: expected an integer (default: 300)"


def test_a_string_where_a_number_belongs(tmp_path):
    line = refused(tmp_path, "--model=BPR", "--learning_rate=fast")
    assert line == "error: learning_rate = 'fast' (from command line) is not allowed: expected a number (default: 0.001)"


def test_a_space_separated_config_key_is_refused(tmp_path):
    line = refused(tmp_path, "--epochs", "1")
    assert line == "error: '--epochs 1': a config key takes its value after '=': write --epochs=1"


def test_a_config_key_without_value_is_refused(tmp_path):
    line = refused(tmp_path, "--model=BPR", "--epochs")
    assert line == "error: '--epochs' has no value: config keys are written --key=value"


def test_the_scripts_own_options_still_take_space_separated_values(tmp_path):
    # -m and --model are the script's options: their value may follow a space (here a bad one, refused as such)
    assert "unknown model 'BPRR'" in refused(tmp_path, "-m", "BPRR")
    assert "unknown model 'BPRR'" in refused(tmp_path, "--model", "BPRR")


def test_unknown_dataset_is_refused_naming_data_path(tmp_path):
    data = tmp_path / "data"
    line = refused(tmp_path, "--dataset=nosuch", data_path=data)
    assert line.startswith(f"error: dataset 'nosuch': no atomic files in {data / 'nosuch'} (data_path: {data})")
    assert "expected nosuch.train.inter, nosuch.valid.inter, nosuch.test.inter" not in line  # no fixed split asked
    assert "expected nosuch.inter" in line and "not the embedded ml-100k nor a dataset RecBole downloads" in line
    assert not data.exists()


@pytest.mark.parametrize("layout", ["empty folder", "folder with other files"])
def test_dataset_folder_without_its_inter_files_is_refused(tmp_path, layout):
    data = tmp_path / "data"
    (data / "mine").mkdir(parents=True)
    if layout == "folder with other files":
        (data / "mine" / "other.inter").write_text("user_id:token\titem_id:token\n")
    line = refused(tmp_path, "--model=BPR", "--dataset=mine", "--benchmark_filename=['train','test']", data_path=data)
    assert f"no atomic files in {data / 'mine'}" in line and "expected mine.train.inter, mine.test.inter" in line


def test_a_dataset_recbole_downloads_is_refused_only_with_a_fixed_split(tmp_path):
    line = refused(tmp_path, "--model=BPR", "--dataset=yelp", data_path=tmp_path / "data")  # yelp.yaml: a fixed split
    assert "RecBole's download of yelp has no fixed split" in line


def test_a_topk_longer_than_the_item_list_is_refused_before_training(tmp_path):
    from conftest import write_tiny_dataset

    write_tiny_dataset(tmp_path / "data", name="tiny", n_items=12, per_user=6)
    argv = [sys.executable, str(RUN_SCRIPT), "--model=GraphCF", "--dataset=tiny", f"--data_path={tmp_path / 'data'}",
            "--benchmark_filename=['train','valid','test']", f"--checkpoint_dir={tmp_path / 'saved'}"]
    done = subprocess.run(argv, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=FAST_S)
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: topk [5, 10, 20] asks for more than the ") and "--topk=[5]" in last, last
    assert "epoch 0" not in done.stdout + done.stderr  # refused before any training
