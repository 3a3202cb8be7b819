"""Text features: rows align with raw ids, and every bad file raises a clear error."""
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, tiny_config, write_tiny_dataset
from recbole_irllrec.config import Config
from recbole_irllrec.data import TextFeatureError
from recbole_irllrec.data.text_features import id_field_of, load_text_matrices
from recbole_irllrec.quick_start import create_dataset


def _load(root: Path, tmp_path: Path, **overrides):
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(root, tmp_path, **overrides))
    return config, create_dataset(config)


def _rows(path: Path) -> dict:
    lines = path.read_text().splitlines()[1:]
    return {line.split("\t")[0]: line.split("\t") for line in lines}


def test_rows_align_with_raw_ids(tiny_data, tmp_path):
    config, dataset = _load(tiny_data, tmp_path)
    matrices = load_text_matrices(config, dataset)
    user_rows = _rows(tiny_data / TINY / f"{TINY}.useremb")
    item_rows = _rows(tiny_data / TINY / f"{TINY}.itememb")
    for column, rows, field, col in (
        ("user_profile", user_rows, dataset.uid_field, 2),
        ("user_intent", user_rows, dataset.uid_field, 3),
        ("item_profile", item_rows, dataset.iid_field, 2),
        ("item_intent", item_rows, dataset.iid_field, 3),
    ):
        matrix = matrices[column]
        assert matrix.dtype == torch.float32
        assert torch.all(matrix[0] == 0)  # padding
        for internal in range(1, matrix.shape[0]):
            raw = dataset.id2token(field, internal)
            expected = np.array(rows[raw][col].split(), dtype=np.float32)
            assert np.allclose(matrix[internal].numpy(), expected, atol=1e-6), (column, raw)
    # the alias ids share the user/item id space
    assert dataset.num(id_field_of(config, "user_intent")) == dataset.user_num


def _rewrite(path: Path, edit):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


def _replace_vector(lines, row, col, value):
    parts = lines[row].rstrip("\n").split("\t")
    parts[col] = value
    lines[row] = "\t".join(parts) + "\n"
    return lines


@pytest.mark.parametrize(
    "suffix, edit, message",
    [
        ("useremb", lambda ls: ls[:3] + ls[4:], "no row for user of the interactions 'u2'"),
        ("itememb", lambda ls: ls + ["i999\ti999\t" + " ".join(["0.5"] * 8) + "\t" + " ".join(["0.5"] * 12) + "\n"],
         "item id unknown to the interactions 'i999'"),
        ("useremb", lambda ls: _replace_vector(ls, 5, 2, " ".join(["0.1"] * 7)),
         "row has 7 values, expected 8 (as in the first row), for 'u4' (line 6)"),
        ("useremb", lambda ls: _replace_vector(ls, 5, 3, " ".join(["0.1"] * 13)),
         "row has 13 values, expected 12"),
        ("itememb", lambda ls: _replace_vector(ls, 2, 3, "nan " + " ".join(["0.1"] * 11)), "NaN or infinite value for"),
        ("useremb", lambda ls: ls + [ls[1]], "duplicate row for user 'u0'"),
    ],
)
def test_bad_text_file_names_file_column_and_id(tiny_data, tmp_path, suffix, edit, message):
    path = tiny_data / TINY / f"{TINY}.{suffix}"
    _rewrite(path, edit)
    with pytest.raises(TextFeatureError) as err:
        _load(tiny_data, tmp_path)
    text = str(err.value)
    assert str(path) in text and message in text


def test_normalising_text_vectors_is_refused(tiny_data, tmp_path):
    with pytest.raises(TextFeatureError, match="normalize_all: False"):
        _load(tiny_data, tmp_path, normalize_all=True)


def test_missing_preload_entry_is_explained(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path)
    del config["preload_weight"]["uid_intent"]
    cfg = Config(model="IRLLRec", dataset=TINY, config_dict=config)
    dataset = create_dataset(cfg)
    with pytest.raises(TextFeatureError, match="user_intent"):
        load_text_matrices(cfg, dataset)


def test_model_refuses_zero_rows_from_unvalidated_dataset(tmp_path):
    # RecBole's own Dataset does not validate: the model's guard names the id
    from recbole.data.dataset import Dataset

    root = tmp_path / "d"
    folder = write_tiny_dataset(root)
    _rewrite(folder / f"{TINY}.useremb", lambda ls: ls[:3] + ls[4:])
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(root, tmp_path))
    with pytest.raises(TextFeatureError, match="no vector for id 'u2'"):
        load_text_matrices(config, Dataset(config))
