"""Issue 15, "documented flows that must work as written": the README's own commands,
read from its code blocks and run as written in a temporary folder (training runs get
one CPU epoch appended), and the messages that say what a flow lacks.
``python benchmarks/documented_flows.py`` runs the flows with each command's time."""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY, shared_data, tiny_config, write_tiny_dataset
from recbole_irllrec.config import Config
from recbole_irllrec.data import TextFeatureError
from recbole_irllrec.quick_start import create_dataset


# ------------------------------------------------------------------ what a missing file means
def test_split_files_without_benchmark_filename_say_which_key_to_set(tmp_path):
    write_tiny_dataset(tmp_path / "data")
    config = Config(model="GraphCF", dataset=TINY, config_dict=tiny_config(tmp_path / "data", tmp_path,
                                                                           benchmark_filename=None))
    with pytest.raises(TextFeatureError, match=r"tiny\.inter not found.*benchmark_filename: \[train, valid, test\]"):
        create_dataset(config)


def test_benchmark_filename_over_one_inter_file_says_to_drop_it(tmp_path):
    folder = write_tiny_dataset(tmp_path / "data")
    lines = [p.read_text().splitlines(keepends=True) for p in sorted(folder.glob("*.inter"))]
    (folder / f"{TINY}.inter").write_text(lines[0][0] + "".join("".join(rows[1:]) for rows in lines))
    for part in ("train", "valid", "test"):
        (folder / f"{TINY}.{part}.inter").unlink()
    config = Config(model="GraphCF", dataset=TINY, config_dict=tiny_config(tmp_path / "data", tmp_path))
    with pytest.raises(TextFeatureError, match=r"tiny\.train\.inter not found.*tiny\.inter.*benchmark_filename"):
        create_dataset(config)


def test_a_model_with_text_terms_on_a_folder_without_vectors_says_how_to_make_them(tmp_path):
    folder = write_tiny_dataset(tmp_path / "data")
    (folder / f"{TINY}.useremb").unlink()
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tmp_path / "data", tmp_path))
    with pytest.raises(ValueError, match=r"tiny\.useremb\] not found.*IRLLRec reads.*python -m dataset_prep embed"):
        create_dataset(config)


# ------------------------------------------------------------------ the README's commands, as written
REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# what makes a README training run a test: one short epoch on the CPU; nothing else is changed
QUICK_RUN = ("--epochs=1", "--eval_step=1", "--gpu_id=''", "--show_progress=False")


def readme_blocks(section: str, lang: str) -> list[str]:
    """The ``lang`` code blocks of the README section whose heading starts with ``section``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end > 0 else None]
    return re.findall(rf"^```{lang}\n(.*?)^```", body, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """The commands of a bash block: comments and blank lines out, continuations joined."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def workspace(tmp_path: Path) -> Path:
    """A folder that runs the README's commands as a checkout would: ``python`` is this
    interpreter, ``run_recbole_irllrec.py`` and ``properties/`` are the repository's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # a wrapper, not a link: a venv's interpreter finds its packages from the path it is started by
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("run_recbole_irllrec.py", "properties"):
        (work / name).symlink_to(REPO / name)
    return work


def run_as_written(work: Path, command: str, timeout: int = 240) -> str:
    """Run one README command in ``work`` (a training run gets :data:`QUICK_RUN` appended);
    returns its output, failing the test with the output's tail on a non-zero exit."""
    if "run_recbole_irllrec.py" in command:
        command = " ".join((command, *QUICK_RUN))
    env = {**os.environ, "PATH": f"{work.parent / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{output[-3000:]}"
    print(f"{time.perf_counter() - started:6.1f} s  {command}")
    if "run_recbole_irllrec.py" in command:
        assert "test result" in output, output[-3000:]
    return output


def test_bring_your_own_split_then_graphcf_and_irllrec(tmp_path):
    work = workspace(tmp_path)
    write_tiny_dataset(work / "dataset", name="mydata")  # split files and text vectors
    (config,) = readme_blocks("Bring your own dataset", "yaml")
    (work / "mydata.yaml").write_text(config)
    (block,) = readme_blocks("Bring your own dataset", "bash")
    ran = commands(block)
    assert [c.split("--model=")[1].split()[0] for c in ran] == ["GraphCF", "IRLLRec"]
    for command in ran:
        run_as_written(work, command)


def test_texts_written_elsewhere_then_embedded_then_trained(tmp_path):
    work = workspace(tmp_path)
    folder = write_tiny_dataset(work / "dataset", name="mydata")
    for suffix in ("useremb", "itememb"):
        (folder / f"mydata.{suffix}").unlink()  # no vectors yet: the flow writes them
    (config,) = readme_blocks("Bring your own dataset", "yaml")
    (work / "mydata.yaml").write_text(config)
    block = readme_blocks("Text vectors", "bash")[0]
    ran = commands(block)
    assert "--out-dir llm-texts" in ran[0] and "--texts-dir llm-texts" in ran[1] and "--model=IRLLRec" in ran[2]
    for command in ran:
        run_as_written(work, command)
    assert (work / "llm-texts" / "mydata.user.texts.jsonl").is_file() and (folder / "mydata.useremb").is_file()


def amazon_slice(folder: Path, n_users: int = 60) -> Path:
    """The published amazon split's first ``n_users`` users and the items they trained
    on (so that every item has a training interaction, as in the published split), as
    the three pickles convert-rlmrec reads; no embedding pickles."""
    from dataset_prep.safe_pickle import load_pickle

    source = shared_data("rlmrec-splits", "amazon")
    matrices = {s: load_pickle(source / f"{s}_mat.pkl").tocsr()[:n_users] for s in ("trn", "val", "tst")}
    items = np.flatnonzero(matrices["trn"].getnnz(axis=0))
    folder.mkdir(parents=True)
    for split, matrix in matrices.items():
        with open(folder / f"{split}_mat.pkl", "wb") as handle:
            pickle.dump(matrix[:, items].tocoo(), handle)
    return folder


# five subprocesses, one of them loading MiniLM: 29 s on a quiet 2-core machine, 1.5-3 min on a busy one
def test_converted_split_without_pickles_then_graphcf_texts_vectors_and_irllrec(tmp_path):
    work = workspace(tmp_path)
    amazon_slice(work / "path" / "to" / "amazon")  # the README's source folder
    (block,) = readme_blocks("Published benchmark splits", "bash")
    ran = commands(block)
    assert ran[0].startswith("python -m dataset_prep convert-rlmrec path/to/amazon")
    assert "--model=GraphCF" in ran[1] and "--model=IRLLRec" in ran[-1]
    for command in ran:
        run_as_written(work, command)
    assert (work / "dataset" / "amazon-book" / "amazon-book.itememb").is_file()
