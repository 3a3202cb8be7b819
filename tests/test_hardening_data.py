"""Issue #13, data side: every bad atomic file stops with one clear ValueError
naming file, column and physical line; values are checked in the float32 the
model uses; ids spelled like missing values stay ids, with or without text."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import data_preparation
from recbole.data.dataset import Dataset

from conftest import TINY, tiny_config, write_tiny_dataset
from recbole_irllrec.config import Config
from recbole_irllrec.data import TextFeatureError
from recbole_irllrec.quick_start import create_dataset
from recbole_irllrec.utils import get_model

# the tiny dataset without text features: what a plain backbone run (LightGCN, BPR) configures
NO_TEXT = dict(
    preload_weight=None,
    additional_feat_suffix=None,
    alias_of_user_id=None,
    alias_of_item_id=None,
    load_col={"inter": ["user_id", "item_id"]},
)


def _config(root: Path, tmp_path: Path, model: str = "IRLLRec", **overrides) -> Config:
    return Config(model=model, dataset=TINY, config_dict=tiny_config(root, tmp_path, **overrides))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _set_cell(lines: list[str], row: int, col: int, value: str) -> list[str]:
    parts = lines[row].rstrip("\r\n").split("\t")
    parts[col] = value
    lines[row] = "\t".join(parts) + "\n"
    return lines


def _add_column(path: Path, header: str, values) -> None:
    """Append a column to an atomic file: ``header`` and one value per data row."""
    lines = _lines(path)
    out = [lines[0].rstrip("\n") + "\t" + header + "\n"]
    out += [line.rstrip("\n") + "\t" + value + "\n" for line, value in zip(lines[1:], values)]
    path.write_text("".join(out))


def _physical(path: Path, blank_after: int = 2, crlf: bool = False) -> None:
    """A blank line after line ``blank_after`` (so data row k is no longer line
    k + 2) and, with ``crlf``, Windows line ends."""
    lines = _lines(path)
    text = "".join(lines[:blank_after] + ["\n"] + lines[blank_after:])
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())


def _raises(config: Config, *parts: str) -> str:
    """Loading fails with a one-line ValueError (a TextFeatureError) holding ``parts``."""
    with pytest.raises(TextFeatureError) as err:
        create_dataset(config)
    text = str(err.value)
    assert isinstance(err.value, ValueError) and "\n" not in text, text
    for part in parts:
        assert part in text, (part, text)
    return text


# ---------------------------------------------------------------- 7: float32 overflow
def test_1e39_vector_in_a_plain_recbole_dataset_is_refused_not_trained_to_nan(tiny_data, tmp_path):
    # RecBole's own Dataset keeps 1e39 in float64; the model's float32 copy held inf and
    # training ended in "Training loss is nan". The model's guard checks after the cast.
    path = tiny_data / TINY / f"{TINY}.useremb"
    path.write_text("".join(_set_cell(_lines(path), 3, 2, "1e39" + " 0.1" * 7)))
    config = _config(tiny_data, tmp_path)
    train, _, _ = data_preparation(config, Dataset(config))
    with pytest.raises(TextFeatureError) as err:
        get_model("IRLLRec")(config, train._dataset)
    text = str(err.value)
    assert str(path) in text and "column 'user_profile'" in text and "'u2'" in text and "float32" in text, text


def test_1e39_vector_reaches_no_training_end_to_end(tiny_data, tmp_path):
    from recbole_irllrec.quick_start import run_recbole_irllrec

    path = tiny_data / TINY / f"{TINY}.useremb"
    path.write_text("".join(_set_cell(_lines(path), 3, 2, "1e39" + " 0.1" * 7)))
    expected = r"column 'user_profile': value 1e39 overflows float32, for 'u2' \(line 4\)"
    with pytest.raises(TextFeatureError, match=expected):
        run_recbole_irllrec(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))


@pytest.mark.parametrize("model, overrides", [("IRLLRec", {}), ("LightGCN", NO_TEXT)])
@pytest.mark.parametrize("value", ["1e39", "-3.5e38", "inf"])
def test_float_field_of_interactions_beyond_float32_is_refused(tiny_data, tmp_path, model, overrides, value):
    path = tiny_data / TINY / f"{TINY}.train.inter"
    n = len(_lines(path)) - 1
    _add_column(path, "rating:float", [value if k == 4 else "4" for k in range(n)])  # data row 4 is line 6
    _physical(path)  # ... line 7
    load_col = {**tiny_config(tiny_data, tmp_path, **overrides)["load_col"], "inter": ["user_id", "item_id", "rating"]}
    for part in ("valid", "test"):
        p = tiny_data / TINY / f"{TINY}.{part}.inter"
        _add_column(p, "rating:float", ["3"] * (len(_lines(p)) - 1))
    config = _config(tiny_data, tmp_path, model, **{**overrides, "load_col": load_col})
    _raises(config, str(path), "column 'rating'", "float32", "(line 7)")


@pytest.mark.parametrize("model, overrides", [("IRLLRec", {}), ("LightGCN", NO_TEXT)])
def test_float_seq_feature_read_by_recbole_beyond_float32_is_refused(tiny_data, tmp_path, model, overrides):
    folder = tiny_data / TINY
    items = sorted({line.split("\t")[1].strip() for p in folder.glob("*.inter") for line in _lines(p)[1:]})
    rows = [f"{i}\t{'1e39 0.5' if k == 3 else '0.5 0.5'}\n" for k, i in enumerate(items)]
    (folder / f"{TINY}.item").write_text("item_id:token\titem_emb:float_seq\n" + "".join(rows))
    _physical(folder / f"{TINY}.item", crlf=True)
    load_col = {**tiny_config(tiny_data, tmp_path, **overrides)["load_col"], "item": ["item_id", "item_emb"]}
    config = _config(tiny_data, tmp_path, model, **{**overrides, "load_col": load_col})
    _raises(config, f"{TINY}.item", "column 'item_emb'", "float32", "(line 6)")


# ---------------------------------------------------------------- 8: ids spelled like missing values
NA_USERS = {"u0": "nan", "u1": "None", "u2": "NA"}
NA_ITEMS = {"i0": "nan", "i1": "NA"}


def _na_dataset(root: Path) -> tuple[Path, dict]:
    """The tiny dataset with users/items renamed to NA spellings, plus .user and
    .item files; returns the folder and each raw user's raw items."""
    folder = write_tiny_dataset(root, n_items=12, per_user=6)
    names = {**NA_USERS, **NA_ITEMS}
    for path in folder.iterdir():
        lines = _lines(path)
        rows = ["\t".join(names.get(c, c) for c in line.rstrip("\n").split("\t")) + "\n" for line in lines[1:]]
        path.write_text(lines[0] + "".join(rows))
    users = [names.get(f"u{u}", f"u{u}") for u in range(30)]
    items = [names.get(f"i{i}", f"i{i}") for i in range(12)]
    ages = "".join(f"{u}\t{k}\n" for k, u in enumerate(users))
    (folder / f"{TINY}.user").write_text("user_id:token\tage:float\n" + ages)
    # a token_seq cell spelled NA is a one-token sequence, not an empty one
    tags = "".join(f"{i}\tNA {i}\n" if k else f"{i}\tNA\n" for k, i in enumerate(items))
    (folder / f"{TINY}.item").write_text("item_id:token\ttags:token_seq\n" + tags)
    history: dict[str, set] = {}
    for part in ("train", "valid", "test"):
        for line in _lines(folder / f"{TINY}.{part}.inter")[1:]:
            u, i = line.rstrip("\n").split("\t")
            history.setdefault(u, set()).add(i)
    return folder, history


@pytest.mark.parametrize(
    "model, overrides",
    [("IRLLRec", {}), ("GraphCF", {}), ("LightGCN", {}), ("LightGCN", NO_TEXT), ("BPR", NO_TEXT)],
)
def test_na_like_ids_are_distinct_ids_with_their_own_interactions(tmp_path, model, overrides):
    root = tmp_path / "d"
    folder, history = _na_dataset(root)
    load_col = {
        **tiny_config(root, tmp_path, **overrides)["load_col"],
        "user": ["user_id", "age"],
        "item": ["item_id", "tags"],
    }
    dataset = create_dataset(_config(root, tmp_path, model, **{**overrides, "load_col": load_col}))
    assert (dataset.user_num, dataset.item_num) == (31, 13)  # + padding: no two ids collapsed
    users = dataset.inter_feat[dataset.uid_field].to_numpy()
    items = dataset.inter_feat[dataset.iid_field].to_numpy()
    assert (users > 0).all() and (items > 0).all()  # nothing became the padding id
    assert dataset.file_size_list == [120, 30, 30]
    seen: dict[str, set] = {}
    for u, i in zip(dataset.id2token(dataset.uid_field, users), dataset.id2token(dataset.iid_field, items)):
        seen.setdefault(u, set()).add(i)
    assert seen == history
    for raw in [*NA_USERS.values()]:
        assert dataset.token2id(dataset.uid_field, raw) > 0
    for raw in [*NA_ITEMS.values()]:
        assert dataset.token2id(dataset.iid_field, raw) > 0
    # the .user and .item rows of these ids are theirs
    age = dict(zip(dataset.id2token(dataset.uid_field, dataset.user_feat[dataset.uid_field].to_numpy()),
                   dataset.user_feat["age"].to_numpy()))
    assert (age["nan"], age["None"], age["NA"], age["u7"]) == (0.0, 1.0, 2.0, 7.0)
    tags = dict(zip(dataset.id2token(dataset.iid_field, dataset.item_feat[dataset.iid_field].to_numpy()),
                    dataset.item_feat["tags"]))
    assert list(dataset.id2token("tags", tags["nan"])) == ["NA"]
    assert list(dataset.id2token("tags", tags["NA"])) == ["NA", "NA"]


# ---------------------------------------------------------------- 9, 13: bad files, one clear error
def _edit(folder: Path, suffix: str, edit) -> Path:
    path = folder / f"{TINY}.{suffix}"
    path.write_text("".join(edit(_lines(path))))
    return path


VEC8 = ",".join(["0.1"] * 8)


TEXT_FILE_CASES = [
    # comma-separated vectors: in the first row (which sets the width) and in a later one
    ("useremb", lambda ls: _set_cell(ls, 1, 2, VEC8), ["column 'user_profile'", "(line 2)", "seq_separator"]),
    ("useremb", lambda ls: _set_cell(ls, 5, 2, VEC8), ["column 'user_profile'", "(line 6)", "seq_separator"]),
    ("useremb", lambda ls: [], ["empty", "(line 1)"]),
    ("itememb", lambda ls: ls[:1], ["no data rows", "(line 1)"]),
    ("itememb", lambda ls: [ls[0].rstrip("\n")], ["no data rows", "(line 1)"]),
    ("useremb", lambda ls: ls[:1] + ["\n", "  \n"], ["no data rows", "(line 1)"]),
    ("useremb", lambda ls: ls[:1] + ["\t\t\t\n"], ["no data rows", "(line 1)"]),
    ("useremb", lambda ls: [ls[0].replace("user_profile:float_seq", "user_profile:float")] + ls[1:],
     ["column 'user_profile'", "float", "(line 1)"]),
    ("useremb", lambda ls: [ls[0].replace("user_profile:float_seq", "user_profile:token_seq")] + ls[1:],
     ["column 'user_profile'", "token_seq", "(line 1)"]),
    ("useremb", lambda ls: [ls[0].replace("user_profile:float_seq", "user_profile:floats")] + ls[1:],
     ["column 'user_profile'", "'floats'", "(line 1)"]),
    ("useremb", lambda ls: ["\ufeff" + ls[0]] + ls[1:], ["line 1 starts with a byte-order mark", "utf-8-sig"]),
]
INTER_CASES = [
    ("train.inter", lambda ls: [], ["empty", "(line 1)"]),
    ("train.inter", lambda ls: ls[:1], ["no data rows", "(line 1)"]),
    ("valid.inter", lambda ls: ls[:1], ["no data rows", "(line 1)"]),
    ("test.inter", lambda ls: [], ["empty", "(line 1)"]),
    ("train.inter", lambda ls: ["user_id:token\titem_id\n"] + ls[1:], ["column 'item_id'", "name:type", "(line 1)"]),
    ("train.inter", lambda ls: ["user_id:token\titem_id:tokens\n"] + ls[1:],
     ["column 'item_id'", "'tokens'", "(line 1)"]),
    ("train.inter", lambda ls: ["\ufeff" + ls[0]] + ls[1:], ["line 1 starts with a byte-order mark", "utf-8-sig"]),
]


@pytest.mark.parametrize(
    "model, overrides, suffix, edit, parts",
    [("IRLLRec", {}, *case) for case in TEXT_FILE_CASES + INTER_CASES]
    + [("LightGCN", NO_TEXT, *case) for case in INTER_CASES],
)
def test_bad_file_stops_with_one_line_naming_file_column_line(
    tiny_data, tmp_path, model, overrides, suffix, edit, parts
):
    path = _edit(tiny_data / TINY, suffix, edit)
    _raises(_config(tiny_data, tmp_path, model, **overrides), str(path), *parts)


@pytest.mark.parametrize(
    "model, overrides, suffix, line",
    [("IRLLRec", {}, "useremb", 5), ("IRLLRec", {}, "train.inter", 26), ("LightGCN", NO_TEXT, "train.inter", 26)],
)
def test_file_not_in_the_encoding_names_its_line(tiny_data, tmp_path, model, overrides, suffix, line):
    path = tiny_data / TINY / f"{TINY}.{suffix}"
    data = path.read_bytes().split(b"\n")
    data[line - 1] = data[line - 1].replace(b"\t", b"\xe9\t", 1)  # latin-1, not UTF-8
    path.write_bytes(b"\n".join(data))
    _raises(_config(tiny_data, tmp_path, model, **overrides), str(path), f"line {line} is not", "encoding")


def test_interactions_without_the_user_column_are_explained_not_a_key_error(tiny_data, tmp_path):
    load_col = {**tiny_config(tiny_data, tmp_path)["load_col"], "inter": ["item_id"]}
    _raises(_config(tiny_data, tmp_path, load_col=load_col), "'user_id'", "load_col")


@pytest.mark.parametrize(
    "header, cell, parts",
    [
        ("rating:float", "abc", ["column 'rating'", "non-numeric value 'abc'"]),
        ("emb:float_seq", "0.1,0.2", ["column 'emb'", "non-numeric value '0.1,0.2'", "seq_separator"]),
        ("emb:float_seq", "0.1 x", ["column 'emb'", "non-numeric value 'x'"]),
    ],
)
@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("model, overrides", [("IRLLRec", {}), ("LightGCN", NO_TEXT)])
def test_non_numeric_value_in_a_file_recbole_reads_names_its_physical_line(
    tiny_data, tmp_path, header, cell, parts, crlf, model, overrides
):
    # 10: the bad row is data row 4 (line 6) with a blank line before it: line 7
    path = tiny_data / TINY / f"{TINY}.train.inter"
    n = len(_lines(path)) - 1
    good = "1" if header.endswith(":float") else "0.1 0.2"
    _add_column(path, header, [cell if k == 4 else good for k in range(n)])
    _physical(path, crlf=crlf)
    for part in ("valid", "test"):
        p = tiny_data / TINY / f"{TINY}.{part}.inter"
        _add_column(p, header, [good] * (len(_lines(p)) - 1))
    name = header.split(":")[0]
    load_col = {**tiny_config(tiny_data, tmp_path, **overrides)["load_col"], "inter": ["user_id", "item_id", name]}
    _raises(_config(tiny_data, tmp_path, model, **{**overrides, "load_col": load_col}), str(path), *parts, "(line 7)")


def test_seq_feature_file_with_header_only_is_refused_not_a_max_of_nothing(tiny_data, tmp_path):
    # RecBole's own reader: "max() arg is an empty sequence"
    (tiny_data / TINY / f"{TINY}.item").write_text("item_id:token\ttags:token_seq\n")
    load_col = {**tiny_config(tiny_data, tmp_path)["load_col"], "item": ["item_id", "tags"]}
    config = _config(tiny_data, tmp_path, "LightGCN", **{**NO_TEXT, "load_col": load_col})
    _raises(config, f"{TINY}.item", "no data rows")


# ---------------------------------------------------------------- 10: physical line numbers everywhere
@pytest.mark.parametrize(
    "suffix, edit, parts",
    [
        ("useremb", lambda ls: _set_cell(ls, 5, 3, ls[5].split("\t")[3].rstrip("\n") + "\textra"),
         ["line 7 has 5 fields, expected 4"]),
        ("useremb", lambda ls: _set_cell(ls, 5, 2, "0.1 0.2"), ["column 'user_profile'", "'u4' (line 7)"]),
        ("useremb", lambda ls: ls[:5] + [ls[1]] + ls[6:], ["duplicate row for user 'u0' (line 7)"]),
        ("itememb", lambda ls: ls + ["zz\tzz\t" + ls[5].split("\t", 2)[2]], ["unknown to the interactions 'zz' (line"]),
        ("itememb", lambda ls: _set_cell(ls, 5, 2, "1e39" + " 0.1" * 7), ["overflows float32", "(line 7)"]),
    ],
)
def test_text_file_errors_count_physical_lines_in_a_crlf_file(tiny_data, tmp_path, suffix, edit, parts):
    path = _edit(tiny_data / TINY, suffix, edit)
    n = len(_lines(path))
    _physical(path, crlf=True)
    text = _raises(_config(tiny_data, tmp_path), str(path), *parts)
    if "unknown" in parts[0]:
        assert f"(line {n + 1})" in text, text  # the last line, after the inserted blank


def test_text_matrices_check_finiteness_after_the_cast(tiny_data, tmp_path):
    # load_text_matrices is the model's guard for datasets the plugin did not read
    from recbole_irllrec.data.text_features import load_text_matrices

    config = _config(tiny_data, tmp_path)
    dataset = create_dataset(config)
    weights = dataset._preloaded_weight
    weights["iid_intent"] = weights["iid_intent"].astype(np.float64)
    weights["iid_intent"][5, 2] = 1e300
    with pytest.raises(TextFeatureError, match=r"column 'item_intent'.*float32"):
        load_text_matrices(config, dataset)
    weights["iid_intent"][5, 2] = np.nan
    with pytest.raises(TextFeatureError, match=r"column 'item_intent'.*NaN"):
        load_text_matrices(config, dataset)
    weights["iid_intent"][5, 2] = 0.5
    assert load_text_matrices(config, dataset)["item_intent"].dtype == torch.float32


def test_byte_order_mark_is_read_with_the_advised_encoding(tiny_data, tmp_path):
    for path in (tiny_data / TINY).iterdir():
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    dataset = create_dataset(_config(tiny_data, tmp_path, encoding="utf-8-sig"))
    assert dataset.user_num == 31 and dataset.token2id(dataset.uid_field, "u0") > 0
