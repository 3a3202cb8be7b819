"""Attacks and careless input on the run script, checkpoints and searches (issue 13)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import TINY, tiny_config, train_tiny_irllrec, write_tiny_dataset
from recbole_irllrec.__main__ import main as analysis_main
from recbole_irllrec.checkpoint import CheckpointError, load_checkpoint
from recbole_irllrec.config import Config, ConfigError
from recbole_irllrec.quick_start import load_data_and_model, run_recbole_irllrec

REPO = Path(__file__).resolve().parents[1]
RUN_SCRIPT = REPO / "run_recbole_irllrec.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


# ----------------------------------------------------------------- 1: no code from checkpoints
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    """A tiny IRLLRec checkpoint (1 epoch) and the folder it was trained in."""
    root = tmp_path_factory.mktemp("hardening")
    write_tiny_dataset(root / "data")
    return root, train_tiny_irllrec(root, intent_num=4)


def _tampered(trained, tmp_path: Path, **external) -> Path:
    _, model_file = trained
    checkpoint = torch.load(model_file, weights_only=True)
    checkpoint["config"]["external"].update(external)
    path = tmp_path / "tampered.pth"
    torch.save(checkpoint, path)
    return path


def test_recorded_values_are_never_evaluated(trained, tmp_path, capsys):
    marker = tmp_path / "X"
    payload = f"__import__('os').system('touch {marker}') or 0.001"
    evil = _tampered(trained, tmp_path, learning_rate=payload)
    assert load_checkpoint(evil)  # it passes the weights_only check: the danger is in what reads it

    commands = {
        "explain": ["explain", "--model_file", str(evil), "--user", "u1"],
        "sparsity": ["sparsity", "--model_file", str(evil), "--out", str(tmp_path / "sparsity")],
        "embplot": ["embplot", "--model_file", str(evil), "--out", str(tmp_path / "e.png"), "--sample", "20"],
    }
    for name, argv in commands.items():
        assert analysis_main(argv) == 2  # refused: a string where a number belongs
        assert not marker.exists(), f"{name} ran the recorded command"
    # the Config refuses it as it is built, naming the checkpoint
    assert f"learning_rate = {payload!r} (from {evil} (recorded settings)) is not allowed: expected a number" in (
        capsys.readouterr().err
    )
    with pytest.raises(ConfigError, match="learning_rate .*recorded settings.*expected a number"):
        load_data_and_model(str(evil))
    assert not marker.exists()

    # a string where a string belongs is read, never run
    note = _tampered(trained, tmp_path, valid_metric_note=payload)
    config, *_ = load_data_and_model(str(note))
    assert config["valid_metric_note"] == payload and not marker.exists()

    # and an untampered checkpoint still loads and explains
    assert analysis_main(["explain", "--model_file", trained[1], "--user", "u1"]) == 0
    assert "u1" in capsys.readouterr().out


@pytest.mark.parametrize("value", [torch.ones(2), b"raw bytes", {"nested": [1, torch.zeros(1)]}])
def test_recorded_values_that_are_not_plain_data_are_refused_by_key(trained, tmp_path, capsys, value):
    evil = _tampered(trained, tmp_path, learning_rate=value)
    with pytest.raises(CheckpointError, match="learning_rate"):
        load_data_and_model(str(evil))
    assert analysis_main(["explain", "--model_file", str(evil), "--user", "u1"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert analysis_main(["explain", "--model_file", str(evil), "--user", "u1", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_command_line_values_are_read_as_literals_not_code(tiny_data, tmp_path, monkeypatch):
    marker = tmp_path / "Y"
    payload = f"__import__('os').system('touch {marker}') or 1"
    monkeypatch.setattr(sys, "argv", ["run", f"--learning_rate={payload}"])
    with pytest.raises(ConfigError, match="learning_rate = .* expected a number"):  # a string, not a number
        Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    monkeypatch.setattr(sys, "argv", ["run", f"--learner={payload}"])
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert not marker.exists()
    assert config["learner"] == payload
    # RecBole's ordinary conversions still hold
    monkeypatch.setattr(sys, "argv", ["run", "--epochs=3", "--learning_rate=1e-3", "--topk=[5,10]",
                                      "--reproducibility=false", "--valid_metric=Recall@5"])
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert (config["epochs"], config["learning_rate"], config["topk"]) == (3, 1e-3, [5, 10])
    assert config["reproducibility"] is False and config["valid_metric"] == "Recall@5"


# ----------------------------------------------------------------- 2: no secret stored
SECRET = "sk-proj-Q7vX2mN9pL4kR8tY3wZ6bC1dF5gH0jK"
SPELLINGS = ["api-key", "openai_key", "access_key", "auth", "credentials", "bearer", "tokens", "OPENAI_API_KEY"]


def _grep(folders: list[Path], needle: str) -> list[str]:
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file() and needle.encode() in path.read_bytes():
                found.append(str(path))
    return found


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_secret_under_any_key_spelling_is_refused_and_never_written(tiny_data, tmp_path, monkeypatch, spelling):
    monkeypatch.setattr(sys, "argv", ["run", f"--{spelling}={SECRET}", "--log_wandb=False"])
    with pytest.raises(ConfigError, match=spelling) as error:
        run_recbole_irllrec(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert SECRET not in str(error.value)
    assert _grep([tmp_path / "log", tmp_path / "saved", tmp_path / "log_tensorboard"], SECRET) == []


@pytest.mark.parametrize(
    "value",
    [SECRET, "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345", "Bearer abc.def-ghi_jkl0123", "ghp_0123456789abcdefghijABCDEFGHIJ0123",
     "Zx81Qm2Lp0Wv7Rt4Yu6Io3Pa9Sd5Fg1HjKl8"],  # the last: a long high-entropy string
)
def test_token_like_values_are_refused_whatever_the_key(tiny_data, tmp_path, monkeypatch, value):
    config = tiny_config(tiny_data, tmp_path, note=value)
    with pytest.raises(ConfigError, match="note") as error:
        Config(model="IRLLRec", dataset=TINY, config_dict=config)
    assert value not in str(error.value)
    # also hidden in a list, or as a loose command-line word RecBole would log as unrecognised
    with pytest.raises(ConfigError, match="extra"):
        Config(model="IRLLRec", dataset=TINY, config_dict={**tiny_config(tiny_data, tmp_path), "extra": ["a", value]})
    monkeypatch.setattr(sys, "argv", ["run", "--api_base", value])
    with pytest.raises(ConfigError) as error:
        Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert value not in str(error.value)


def test_ordinary_values_are_not_mistaken_for_secrets(tiny_data, tmp_path):
    config = tiny_config(
        tiny_data, tmp_path, checkpoint_dir=str(tmp_path / "saved" / "IRLLRec-ml-100k-20261203-101500"),
        note="0123456789abcdef0123456789abcdef01234567",  # a commit hash: hex, not a credential
    )
    assert Config(model="IRLLRec", dataset=TINY, config_dict=config)["note"].startswith("0123")


def test_the_run_script_refuses_a_secret_in_one_line(tiny_data, tmp_path):
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    run = subprocess.run(
        [sys.executable, str(RUN_SCRIPT), "--model=IRLLRec", f"--dataset={TINY}", f"--config_files={settings}",
         f"--api-key={SECRET}"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and SECRET not in run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "api-key" in errors[0], run.stderr[-2000:]
    assert _grep([tmp_path / "log", tmp_path / "saved", tmp_path / "log_tensorboard"], SECRET) == []


# ----------------------------------------------------------------- 3: log stays under log/
@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".", "", "/tmp/x", "a\\b"])
def test_dataset_names_must_be_one_path_component(tmp_path, name):
    with pytest.raises(ConfigError, match="dataset"):
        Config(model="IRLLRec", dataset=name, config_dict={"data_path": str(tmp_path)})
    with pytest.raises(ConfigError, match="dataset"):
        Config(model="IRLLRec", config_dict={"data_path": str(tmp_path), "dataset": name})


# ----------------------------------------------------------------- 5: checkpoints written whole
def test_a_kill_during_a_save_leaves_the_previous_best_whole(tiny_data, tmp_path, monkeypatch):
    from recbole_irllrec import trainer as trainer_module

    real_save, saves = torch.save, []

    def dying_save(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) == 1:
            return real_save(obj, f, *args, **kwargs)
        with open(f, "wb") if isinstance(f, (str, os.PathLike)) else f as handle:
            handle.write(b"PK\x03\x04 half a zip")  # the process dies mid-write
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module.torch, "save", dying_save)
    # without validation RecBole saves after every epoch
    config = tiny_config(tiny_data, tmp_path, epochs=3, eval_step=0)
    with pytest.raises(KeyboardInterrupt):
        run_recbole_irllrec(model="BPR", dataset=TINY, config_dict=config)
    (saved,) = [p for p in (tmp_path / "saved").iterdir() if not p.name.startswith(".")]
    assert load_checkpoint(saved)["epoch"] == 0  # the first save, intact
    assert list((tmp_path / "saved").iterdir()) == [saved]  # no temporary left behind


@pytest.mark.parametrize("model", ["IRLLRec", "BPR"])
def test_two_runs_in_the_same_second_keep_both_checkpoints(tiny_data, tmp_path, monkeypatch, model):
    import recbole.trainer.trainer as recbole_trainer

    monkeypatch.setattr(recbole_trainer, "get_local_time", lambda: "Dec-03-2026_10-15-00")
    first = run_recbole_irllrec(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    second = run_recbole_irllrec(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, seed=7))
    assert first["saved_model_file"] != second["saved_model_file"]
    assert Path(first["saved_model_file"]).name == f"{model}-Dec-03-2026_10-15-00.pth"  # RecBole's name, kept
    assert load_checkpoint(first["saved_model_file"])["config"]["final"]["seed"] == 2020
    assert load_checkpoint(second["saved_model_file"])["config"]["final"]["seed"] == 7


# ----------------------------------------------------------------- 6: a search where everything failed
def test_a_search_in_which_every_trial_fails_exits_non_zero(tiny_data, tmp_path):
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {grid: [-1.0, -2.0]}\n")
    run = subprocess.run(
        [sys.executable, str(RUN_SCRIPT), "--model=BPR", f"--dataset={TINY}", f"--config_files={settings}",
         "--tune", str(space), "--output", str(tmp_path / "search"), "--max-concurrent", "1"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "every trial failed" in errors[0] and "Invalid learning rate" in errors[0], run.stderr[-3000:]
    assert (tmp_path / "search" / "results.csv").is_file()  # the table is still written


# ----------------------------------------------------------------- 13: one line, traceback on request
def test_input_errors_are_one_line_unless_debug(tiny_data, tmp_path):
    useremb = tiny_data / TINY / f"{TINY}.useremb"
    header, first, *rest = useremb.read_text().splitlines(keepends=True)
    cells = first.split("\t")
    cells[2] = "abc " + cells[2]  # a non-numeric value in the first profile vector
    useremb.write_text(header + "\t".join(cells) + "".join(rest))
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    argv = [sys.executable, str(RUN_SCRIPT), "--model=IRLLRec", f"--dataset={TINY}", f"--config_files={settings}"]
    quiet = subprocess.run(argv, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    (line,) = [line for line in quiet.stderr.splitlines() if line.startswith("error:")]
    assert f"{TINY}.useremb" in line
    loud = subprocess.run(argv + ["--debug"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert loud.returncode != 0 and "Traceback" in loud.stderr
