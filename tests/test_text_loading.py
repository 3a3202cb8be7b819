"""The fast text-feature reader: same matrices as RecBole, float32, exact
errors, and only the text columns the model reads."""
from pathlib import Path

import numpy as np
import pytest
from recbole.data import data_preparation
from recbole.data.dataset import Dataset

import recbole_irllrec.data.dataset
import recbole_irllrec.utils
from conftest import TINY, tiny_config, write_tiny_dataset
from recbole_irllrec.config import Config
from recbole_irllrec.data import TextFeatureDataset, TextFeatureError, text_reader
from recbole_irllrec.data.text_features import (
    FILE_LAYOUT,
    ITEM_PROFILE,
    TEXT_COLUMNS,
    USER_PROFILE,
    load_text_matrices,
)
from recbole_irllrec.quick_start import build_data_and_model, create_dataset

ALIASES = [id_col for suffix in FILE_LAYOUT for id_col, _ in FILE_LAYOUT[suffix]]


def _config(root: Path, tmp_path: Path, model: str = "IRLLRec", **overrides) -> Config:
    return Config(model=model, dataset=TINY, config_dict=tiny_config(root, tmp_path, **overrides))


def _edit(path: Path, edit) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


def _cell(lines: list, row: int, col: int, value: str) -> list:
    parts = lines[row].rstrip("\n").split("\t")
    parts[col] = value
    lines[row] = "\t".join(parts) + "\n"
    return lines


def _needs(monkeypatch, *columns: str) -> None:
    # the models' text_columns classmethod is the model side's; here it is fixed per test
    monkeypatch.setattr(recbole_irllrec.utils, "text_columns_needed", lambda config: tuple(columns))


def _assert_same_as_recbole(root: Path, tmp_path: Path, **overrides) -> TextFeatureDataset:
    config = _config(root, tmp_path, **overrides)
    ours = create_dataset(config)
    assert isinstance(ours, TextFeatureDataset)
    stock = Dataset(config)
    assert (ours.user_num, ours.item_num) == (stock.user_num, stock.item_num)
    for field in ALIASES + [ours.uid_field, ours.iid_field]:
        assert list(ours.field2id_token[field]) == list(stock.field2id_token[field]), field
    for field in ALIASES:
        mine = ours.get_preload_weight(field)
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine, stock.get_preload_weight(field).astype(np.float32))
    return ours


def test_fast_reader_gives_recbole_matrices_in_float32(tiny_data, tmp_path):
    ours = _assert_same_as_recbole(tiny_data, tmp_path)
    # the vectors stay out of RecBole's frames; only the id columns flow through
    assert set(ours.useremb_feat.columns) == {"uid_profile", "uid_intent"}
    assert ours.num("user_intent") == 12 and ours.field2source["user_intent"] == "useremb"
    assert ours.text_vectors_bytes == sum(ours.get_preload_weight(f).nbytes for f in ALIASES)


def test_one_column_preloaded_for_two_id_fields_as_recbole(tiny_data, tmp_path):
    preload = {"uid_profile": "user_profile", "uid_intent": "user_profile", "iid_profile": "item_profile",
               "iid_intent": "item_intent"}
    ours = _assert_same_as_recbole(tiny_data, tmp_path, preload_weight=preload)
    assert "user_intent" not in ours.field2type  # named by no preload_weight entry: not parsed


def test_blank_lines_and_repeated_spaces_read_as_recbole_reads_them(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(text_reader, "BLOCK_ROWS", 4)  # several blocks, the last one short
    path = tiny_data / TINY / f"{TINY}.useremb"

    def messy(lines):
        lines = _cell(lines, 3, 2, "  " + lines[3].split("\t")[2].replace(" ", "   ") + " ")
        return lines[:5] + ["\n", "\n"] + lines[5:] + ["\n"]

    _edit(path, messy)
    _assert_same_as_recbole(tiny_data, tmp_path)


def test_fast_and_precise_parses_agree_bit_for_bit():
    rng = np.random.default_rng(1)
    values = rng.normal(scale=0.05, size=(64, 33))
    cells = [" ".join(f"{x:.17g}" if k % 2 else f"{x:.6f}" for k, x in enumerate(row)) for row in values]
    fast = text_reader.parse_fast(cells, 33, " ")
    precise = text_reader.parse_precise(cells, 33, " ", fail=None)
    expected = np.array([[float(t) for t in c.split()] for c in cells]).astype(np.float32)
    np.testing.assert_array_equal(fast, expected)
    np.testing.assert_array_equal(precise, expected)


def test_na_like_ids_stay_distinct_ids(tmp_path):
    root = tmp_path / "d"
    folder = write_tiny_dataset(root)
    names = {"u0": "nan", "u1": "NA", "u2": "None"}

    def rename(lines):
        out = []
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            out.append("\t".join(names.get(p, p) for p in parts) + "\n")
        return out

    for file in folder.iterdir():
        if file.suffix in (".inter", ".useremb"):
            _edit(file, rename)
    config = _config(root, tmp_path)
    dataset = create_dataset(config)
    assert dataset.user_num == 31  # 30 users + padding: none became padding
    rows = {line.split("\t")[0]: line.split("\t") for line in (folder / f"{TINY}.useremb").read_text().splitlines()[1:]}
    matrix = load_text_matrices(config, dataset, [USER_PROFILE])[USER_PROFILE].numpy()
    for raw in names.values():
        internal = dataset.token2id(dataset.uid_field, raw)
        assert internal > 0
        expected = np.array(rows[raw][2].split(), dtype=np.float64).astype(np.float32)
        np.testing.assert_array_equal(matrix[internal], expected)


# a blank line is inserted after line 2, so the bad row of file line 6 is physical line 7
@pytest.mark.parametrize(
    "suffix, col, value, column, message",
    [
        ("useremb", 2, " ".join(["0.1"] * 7), "user_profile", "row has 7 values, expected 8 (as in the first row)"),
        ("useremb", 3, " ".join(["0.1"] * 13), "user_intent", "row has 13 values, expected 12 (as in the first row)"),
        ("useremb", 2, "0.1 abc" + " 0.1" * 6, "user_profile", "non-numeric value 'abc'"),
        ("itememb", 3, "nan" + " 0.1" * 11, "item_intent", "NaN or infinite value"),
        ("itememb", 2, "-inf" + " 0.1" * 7, "item_profile", "NaN or infinite value"),
        ("itememb", 2, "1e39" + " 0.1" * 7, "item_profile", "value 1e39 overflows float32"),
        ("useremb", 2, "   ", "user_profile", "empty vector"),
    ],
)
def test_bad_vector_names_file_column_id_and_physical_line(
    tiny_data, tmp_path, monkeypatch, suffix, col, value, column, message
):
    monkeypatch.setattr(text_reader, "BLOCK_ROWS", 4)  # the bad row is in the second block
    path = tiny_data / TINY / f"{TINY}.{suffix}"
    raw = path.read_text().splitlines()[5].split("\t")[0]
    _edit(path, lambda ls: (lambda ls: ls[:2] + ["\n"] + ls[2:])(_cell(ls, 5, col, value)))
    with pytest.raises(TextFeatureError) as err:
        create_dataset(_config(tiny_data, tmp_path))
    text = str(err.value)
    assert str(path) in text and f"column '{column}'" in text and message in text, text
    assert f"'{raw}' (line 7)" in text, text


def test_duplicate_row_names_its_physical_line(tiny_data, tmp_path):
    path = tiny_data / TINY / f"{TINY}.useremb"
    _edit(path, lambda ls: ls + ["\n", ls[1]])
    with pytest.raises(TextFeatureError, match=r"duplicate row for user 'u0' \(line 33\)"):
        create_dataset(_config(tiny_data, tmp_path))


def test_model_without_text_loads_without_the_files(tiny_data, tmp_path, monkeypatch):
    _needs(monkeypatch)  # GraphCF, BPR, LightGCN: no text columns
    for suffix in FILE_LAYOUT:
        (tiny_data / TINY / f"{TINY}.{suffix}").unlink()
    config = _config(tiny_data, tmp_path, model="GraphCF")
    dataset, model, *_ = build_data_and_model(config)
    assert isinstance(dataset, TextFeatureDataset) and dataset.user_num == 31
    assert dataset.text_vectors_bytes == 0 and dataset._preloaded_weight == {}
    assert not hasattr(dataset, "useremb_feat") and "uid_profile" not in dataset.field2type
    with pytest.raises(TextFeatureError, match="was not loaded"):
        dataset.get_preload_weight("uid_profile")


def test_graphcf_and_bpr_skip_the_text_files(tiny_data, tmp_path, monkeypatch):
    # the real models (no text_columns for BPR), with files that would not even parse: never read
    calls = []
    monkeypatch.setattr(recbole_irllrec.data.dataset, "read_text_table", lambda *a, **k: calls.append(a))
    for suffix in FILE_LAYOUT:
        (tiny_data / TINY / f"{TINY}.{suffix}").write_text("not a header\n")
    for model in ("GraphCF", "BPR"):
        dataset = create_dataset(_config(tiny_data, tmp_path, model=model))
        assert isinstance(dataset, TextFeatureDataset) and dataset.text_vectors_bytes == 0
        train, valid, test = data_preparation(dataset.config, dataset)
        assert len(train.dataset) > 0
    assert calls == []


def test_profile_only_model_does_not_parse_intent(tiny_data, tmp_path, monkeypatch):
    _needs(monkeypatch, USER_PROFILE, ITEM_PROFILE)
    for suffix in FILE_LAYOUT:  # intent cells that would not parse
        path = tiny_data / TINY / f"{TINY}.{suffix}"
        _edit(path, lambda ls: ls[:1] + [_cell([line], 0, 3, "not numbers")[0] for line in ls[1:]])
    config = _config(tiny_data, tmp_path)
    dataset = create_dataset(config)
    matrices = load_text_matrices(config, dataset, [USER_PROFILE, ITEM_PROFILE])
    assert matrices[USER_PROFILE].shape == (dataset.user_num, 8)
    assert set(dataset._preloaded_weight) == {"uid_profile", "iid_profile"}
    assert "uid_intent" not in dataset.alias["user_id"] and "user_intent" not in dataset.field2type
    with pytest.raises(TextFeatureError, match="reads only the text columns"):
        load_text_matrices(config, dataset)


def test_load_text_matrices_refuses_unknown_columns(tiny_data, tmp_path):
    config = _config(tiny_data, tmp_path)
    dataset = create_dataset(config)
    assert set(load_text_matrices(config, dataset)) == set(TEXT_COLUMNS)
    with pytest.raises(TextFeatureError, match="not text columns"):
        load_text_matrices(config, dataset, ["user_emb"])
