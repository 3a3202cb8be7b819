"""Issue 15, "documented flows that must work as written": the README's own commands,
run as written in a temporary folder, and the messages that say what a flow lacks."""
from __future__ import annotations

import pytest

from conftest import TINY, tiny_config, write_tiny_dataset
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
