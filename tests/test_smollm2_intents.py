"""End to end with a real local model: SmolLM2-135M writes intents for 20 ml-100k items.

Slow (about 30 s to load the model and 5-10 s per item on 2 CPU threads), so it
is marked ``slow`` and runs with ``pytest -m slow tests/test_smollm2_intents.py``.
It runs the same command as the README demo.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataset_prep.movielens import prepare_ml100k
from dataset_prep.text_records import read_text_records
from test_dataset_prep import HashEmbedder
from test_hf_chat import smollm2_missing

N_ITEMS = 20


def intents_command(folder: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "dataset_prep", "intents", str(folder),
        "--backend", "hf", "--model", "smollm2", "--device", "cpu",
        "--prompt-set", "small", "--tasks", "item_intent", "--limit-items", str(N_ITEMS),
        "--max-tokens", "96", "--repetition-penalty", "1.2", "--out-dir", str(out),
    ]


def summary_row(stdout: str) -> tuple[int, int, int, int]:
    """(requests, cached, new, failed) from the end-of-run table."""
    match = re.search(r"^item_intent\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", stdout, re.MULTILINE)
    assert match, stdout
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


@pytest.mark.slow
@pytest.mark.skipif(bool(smollm2_missing()), reason=smollm2_missing() or "installed")
def test_smollm2_writes_intents_for_20_ml100k_items(tmp_path: Path) -> None:
    folder = prepare_ml100k(tmp_path / "data", embedder=HashEmbedder())
    out = tmp_path / "llm-texts"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}

    start = time.perf_counter()
    first = subprocess.run(intents_command(folder, out), capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - start
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert summary_row(first.stdout) == (N_ITEMS, 0, N_ITEMS, 0)

    records = read_text_records(out / "ml-100k.item.texts.jsonl")
    assert [r.id for r in records] == [str(i) for i in range(1, N_ITEMS + 1)]
    for record in records:
        assert record.intent.startswith("Attracts users who "), record
        assert len(record.intent) > len("Attracts users who ") + 10, record  # the model wrote something
        assert record.evidence == (record.id,)
    # The prepared folder is left as it was: its offline texts still cover every item.
    assert len(read_text_records(folder / "ml-100k.item.texts.jsonl")) == 1682

    # A second run is served from the cache: no request reaches the model.
    again = subprocess.run(intents_command(folder, out), capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary_row(again.stdout) == (N_ITEMS, N_ITEMS, 0, 0)
    assert "Converting and de-quantizing GGUF" not in again.stderr  # the model was never loaded
    print(f"\nSmolLM2-135M: {N_ITEMS} item intents in {seconds:.0f} s (model load included)")
    for record in records[:5]:
        print(f"  {record.id}: {record.intent}")
