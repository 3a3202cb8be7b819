"""Tests of the dataset_prep package (ml-100k preparation) with a stub embedder.

The real sentence-transformer model is never loaded here: a hash-based
embedder of width 8 stands in for it, so the whole file runs in seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dataset_prep import movielens
from dataset_prep.__main__ import main
from dataset_prep.atomic import atomic_open, atomic_write_json, atomic_write_text, staged_directory
from dataset_prep.embed import DEFAULT_EMBEDDER_NAME
from dataset_prep.manifest import MANIFEST_NAME, read_manifest
from dataset_prep.movielens import ML100K, ml100k_source_dir, prepare_ml100k
from dataset_prep.recbole_io import parse_float_seq, read_atomic
from dataset_prep.split import split_by_user, split_counts
from dataset_prep.text_records import read_text_records
from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX

SPLITS = ("train", "valid", "test")


class HashEmbedder:
    """Deterministic stand-in for the sentence model: sha256 of the text -> 8 floats."""

    def __init__(self, name: str = "hash-stub-8") -> None:
        self.name = name
        self.calls = 0

    @staticmethod
    def vector(text: str) -> np.ndarray:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        return (np.frombuffer(digest, dtype=np.uint8)[:8].astype(np.float32) - 127.5) / 127.5

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)


class FailingEmbedder(HashEmbedder):
    def __call__(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("embedder exploded")


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real bundled ml-100k prepared once with the stub embedder."""
    return prepare_ml100k(tmp_path_factory.mktemp("prepared"), embedder=HashEmbedder())


def _write_source(folder: Path, inter_rows: list[tuple]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    lines += ["\t".join(str(v) for v in row) for row in inter_rows]
    (folder / f"{ML100K}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{ML100K}.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tGodfather, The\t1972\tCrime Drama\n"
        "11\tToy Story\t1995\tAnimation Children's Comedy\n"
        "12\tAlien\t1979\tHorror Sci-Fi\n"
        "13\tCasablanca\t1942\tDrama Romance War\n"
        "14\tunkonwn\tunkonwn\tunknown\n"
        "15\tFargo\t1996\tCrime Drama Thriller\n",
        encoding="utf-8",
    )
    (folder / f"{ML100K}.user").write_text(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "1\t24\tM\ttechnician\t85711\n"
        "2\t18\tF\tother\t94043\n"
        "3\t40\tF\tnone\t32067\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture()
def tiny_source(tmp_path: Path) -> Path:
    """A small source: user 1 has 10 ratings, user 2 one, user 3 two, user 4 (no demographics) five;
    item 99 has no metadata."""
    rows = [(1, 10 + k % 6, 1 + k % 5, 1000 + k) for k in range(10)]
    rows += [(2, 11, 5, 2000)]
    rows += [(3, 12, 1, 3000), (3, 13, 4, 3001)]
    rows += [(4, item, 3, 4000 + item) for item in (10, 12, 13, 15, 99)]
    return _write_source(tmp_path / "source", rows)


def _data_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def _pairs(folder: Path, split: str) -> list[tuple[str, str]]:
    frame = read_atomic(folder / f"{ML100K}.{split}.inter").frame
    return list(zip(frame["user_id"], frame["item_id"]))


# ---------------------------------------------------------------- splits
def test_split_counts_follow_recbole_rule() -> None:
    from recbole.data.dataset import Dataset  # heavy import, only here

    ratios = [0.8, 0.1, 0.1]
    for n in range(1, 300):
        counts = split_counts(n, ratios)
        assert sum(counts) == n and counts[0] >= 1 and min(counts) >= 0
        # RecBole's helper never reads self; it returns the cumulative split points.
        points = Dataset._calcu_split_ids(None, tot=n, ratios=ratios)
        assert list(np.cumsum(counts)[:-1]) == list(points), n
    assert split_counts(1, ratios) == (1, 0, 0)
    assert split_counts(20, ratios) == (16, 2, 2)
    assert split_counts(3, (0.1, 0.45, 0.45))[0] >= 1
    with pytest.raises(ValueError):
        split_counts(5, (0.0, 0.5, 0.5))


def test_split_by_user_is_deterministic_per_seed() -> None:
    users = [str(u) for u in np.repeat(np.arange(30), 17)]
    first = split_by_user(users, (0.8, 0.1, 0.1), seed=7)
    assert np.array_equal(first, split_by_user(users, (0.8, 0.1, 0.1), seed=7))
    assert not np.array_equal(first, split_by_user(users, (0.8, 0.1, 0.1), seed=8))


def test_splits_are_disjoint_and_cover_source(built: Path) -> None:
    source = ml100k_source_dir() / f"{ML100K}.inter"
    source_header = source.read_text(encoding="utf-8").splitlines()[0]
    split_lines = []
    for split in SPLITS:
        path = built / f"{ML100K}.{split}.inter"
        assert path.read_text(encoding="utf-8").splitlines()[0] == source_header
        split_lines += _data_lines(path)
    assert Counter(split_lines) == Counter(_data_lines(source))
    pair_sets = [set(_pairs(built, s)) for s in SPLITS]
    assert not (pair_sets[0] & pair_sets[1]) and not (pair_sets[0] & pair_sets[2]) and not (pair_sets[1] & pair_sets[2])
    counts = [len(_data_lines(built / f"{ML100K}.{s}.inter")) for s in SPLITS]
    assert counts[0] > 0.78 * sum(counts) and min(counts) > 0.09 * sum(counts)


def test_every_user_has_training_data(built: Path, tiny_source: Path, tmp_path: Path) -> None:
    source_users = set(read_atomic(ml100k_source_dir() / f"{ML100K}.inter").column("user_id"))
    assert {u for u, _ in _pairs(built, "train")} == source_users
    tiny = prepare_ml100k(tmp_path / "root", embedder=HashEmbedder(), source_dir=tiny_source)
    assert {u for u, _ in _pairs(tiny, "train")} == {"1", "2", "3", "4"}


def test_same_seed_same_files_other_seed_other_split(tiny_source: Path, tmp_path: Path) -> None:
    a = prepare_ml100k(tmp_path / "a", embedder=HashEmbedder(), source_dir=tiny_source, seed=5)
    b = prepare_ml100k(tmp_path / "b", embedder=HashEmbedder(), source_dir=tiny_source, seed=5)
    for name in sorted(p.name for p in a.iterdir() if p.name != MANIFEST_NAME):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    users = read_atomic(ml100k_source_dir() / f"{ML100K}.inter").column("user_id")
    assert not np.array_equal(split_by_user(users, (0.8, 0.1, 0.1), 5), split_by_user(users, (0.8, 0.1, 0.1), 6))


# ---------------------------------------------------------------- texts
def test_user_evidence_is_exactly_the_users_training_items(built: Path) -> None:
    train_items: dict[str, set[str]] = {}
    for user, item in _pairs(built, "train"):
        train_items.setdefault(user, set()).add(item)
    held_out = {pair for split in ("valid", "test") for pair in _pairs(built, split)}
    for record in read_text_records(built / f"{ML100K}.user.texts.jsonl"):
        evidence = set(record.evidence)
        assert evidence == train_items[record.id]
        assert not any((record.id, item) in held_out for item in evidence)


def test_held_out_interactions_cannot_change_texts(tmp_path: Path) -> None:
    """Rewrite ratings/timestamps of every valid/test row: the texts must stay byte-identical."""
    original = tmp_path / "original"
    shutil.copytree(ml100k_source_dir(), original, ignore=shutil.ignore_patterns("*.kg", "*.link"))
    first = prepare_ml100k(tmp_path / "one", embedder=HashEmbedder(), source_dir=original)

    inter = read_atomic(original / f"{ML100K}.inter")
    assignment = split_by_user(inter.column("user_id"), (0.8, 0.1, 0.1), 2020)
    frame = inter.frame.copy()
    held = assignment != 0
    frame.loc[held, "rating"] = np.where(frame.loc[held, "rating"] == "1", "5", "1")
    frame.loc[held, "timestamp"] = "999999999"
    tampered = tmp_path / "tampered"
    shutil.copytree(original, tampered)
    lines = ["\t".join(inter.header)] + ["\t".join(row) for row in frame.to_numpy().tolist()]
    (tampered / f"{ML100K}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = prepare_ml100k(tmp_path / "two", embedder=HashEmbedder(), source_dir=tampered)

    assert (first / f"{ML100K}.test.inter").read_bytes() != (second / f"{ML100K}.test.inter").read_bytes()
    for name in (
        f"{ML100K}.train.inter",
        f"{ML100K}.user.texts.jsonl",
        f"{ML100K}.item.texts.jsonl",
        f"{ML100K}.{USER_SUFFIX}",
        f"{ML100K}.{ITEM_SUFFIX}",
    ):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_texts_are_short_and_readable(built: Path) -> None:
    for kind in ("user", "item"):
        for record in read_text_records(built / f"{ML100K}.{kind}.texts.jsonl"):
            assert record.profile and record.intent
            assert len(f"{record.profile} {record.intent}".split()) <= 65, record
            assert "nan" not in f"{record.profile} {record.intent}".lower().split()
    item_1 = next(r for r in read_text_records(built / f"{ML100K}.item.texts.jsonl") if r.id == "1")
    assert item_1.profile.startswith("Toy Story (1995)")
    assert item_1.intent.startswith("Attracts viewers who") and "; unattractive to viewers who" in item_1.intent


def test_titles_with_periods_stay_whole(built: Path) -> None:
    """ml-100k's own titles: a period inside a title is no sentence end."""
    items = {r.id: r for r in read_text_records(built / f"{ML100K}.item.texts.jsonl")}
    assert items["393"].profile.startswith("Mrs. Doubtfire (1993) is ")
    assert items["302"].profile.startswith("L.A. Confidential (1997) is ")
    assert items["474"].profile.startswith("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963) is ")
    quoted = " ".join(r.intent for r in read_text_records(built / f"{ML100K}.user.texts.jsonl"))
    assert '"Mrs. Doubtfire"' in quoted and '"L.A. Confidential"' in quoted and '"Mrs"' not in quoted


def test_tiny_source_edge_cases(tiny_source: Path, tmp_path: Path) -> None:
    folder = prepare_ml100k(tmp_path / "root", embedder=HashEmbedder(), source_dir=tiny_source)
    users = {r.id: r for r in read_text_records(folder / f"{ML100K}.user.texts.jsonl")}
    items = {r.id: r for r in read_text_records(folder / f"{ML100K}.item.texts.jsonl")}
    assert users["2"].profile.startswith("An 18-year-old woman with an unlisted occupation")
    assert "dislikes little" in users["2"].intent  # only a 5-star rating
    assert users["4"].profile.startswith("A person")  # no demographics row
    assert items["10"].profile.startswith("The Godfather (1972)")
    assert items["99"].profile.startswith("Untitled movie 99")
    assert items["14"].profile.startswith("Untitled movie 14")


# ---------------------------------------------------------------- embeddings
@pytest.mark.parametrize("kind, suffix", [("user", USER_SUFFIX), ("item", ITEM_SUFFIX)])
def test_embedding_rows_align_with_texts(built: Path, kind: str, suffix: str) -> None:
    table = read_atomic(built / f"{ML100K}.{suffix}")
    (profile_id, profile_col), (intent_id, intent_col) = FILE_LAYOUT[suffix]
    expected = (f"{profile_id}:token", f"{intent_id}:token", f"{profile_col}:float_seq", f"{intent_col}:float_seq")
    assert table.header == expected
    texts = {r.id: r for r in read_text_records(built / f"{ML100K}.{kind}.texts.jsonl")}
    frame = table.frame
    assert (frame[profile_id] == frame[intent_id]).all()
    assert len(frame) == len(texts) == frame[profile_id].nunique()
    for raw_id, profile, intent in zip(frame[profile_id], frame[profile_col], frame[intent_col]):
        record = texts[raw_id]
        np.testing.assert_allclose(parse_float_seq(profile), HashEmbedder.vector(record.profile), rtol=1e-6)
        np.testing.assert_allclose(parse_float_seq(intent), HashEmbedder.vector(record.intent), rtol=1e-6)


def test_feature_rows_are_exactly_the_interaction_ids(built: Path) -> None:
    pairs = [p for s in SPLITS for p in _pairs(built, s)]
    for index, suffix, kind in ((0, USER_SUFFIX, "user"), (1, ITEM_SUFFIX, "item")):
        ids = read_atomic(built / f"{ML100K}.{suffix}").column(FILE_LAYOUT[suffix][0][0])
        assert len(ids) == len(set(ids))
        assert set(ids) == {pair[index] for pair in pairs}
        assert [r.id for r in read_text_records(built / f"{ML100K}.{kind}.texts.jsonl")] == ids
    assert read_manifest(built)["stats"]["users"] == 943


# ---------------------------------------------------------------- manifest / reuse
def test_second_call_reuses_and_changes_rebuild(tiny_source: Path, tmp_path: Path, caplog) -> None:
    root = tmp_path / "root"
    first = HashEmbedder()
    folder = prepare_ml100k(root, embedder=first, source_dir=tiny_source)
    assert first.calls == 1

    again = HashEmbedder()
    with caplog.at_level(logging.INFO, logger="dataset_prep"):
        assert prepare_ml100k(root, embedder=again, source_dir=tiny_source) == folder
    assert again.calls == 0
    assert any("Reusing" in message for message in caplog.messages)

    for kwargs in ({"seed": 1}, {"force": True}, {"ratios": (0.6, 0.2, 0.2)}):
        rebuilt = HashEmbedder()
        prepare_ml100k(root, embedder=rebuilt, source_dir=tiny_source, **kwargs)
        assert rebuilt.calls == 1, kwargs
    assert read_manifest(folder)["params"]["ratios"] == [0.6, 0.2, 0.2]

    other_model = HashEmbedder(name="another-model")
    prepare_ml100k(root, embedder=other_model, source_dir=tiny_source, ratios=(0.6, 0.2, 0.2))
    assert other_model.calls == 1

    # A changed source file or a damaged output also triggers a rebuild.
    with open(tiny_source / f"{ML100K}.user", "a", encoding="utf-8") as handle:
        handle.write("5\t30\tM\twriter\t00000\n")
    changed = HashEmbedder(name="another-model")
    prepare_ml100k(root, embedder=changed, source_dir=tiny_source, ratios=(0.6, 0.2, 0.2))
    assert changed.calls == 1
    (folder / f"{ML100K}.useremb").write_text("broken", encoding="utf-8")
    repaired = HashEmbedder(name="another-model")
    prepare_ml100k(root, embedder=repaired, source_dir=tiny_source, ratios=(0.6, 0.2, 0.2))
    assert repaired.calls == 1


def test_default_embedder_is_not_created_when_reusing(tiny_source: Path, tmp_path: Path, monkeypatch) -> None:
    prepare_ml100k(tmp_path, embedder=HashEmbedder(name=DEFAULT_EMBEDDER_NAME), source_dir=tiny_source)

    def refuse(*args, **kwargs):
        raise AssertionError("the default embedder must not be built for a reused folder")

    monkeypatch.setattr(movielens, "SentenceTransformerEmbedder", refuse)
    assert prepare_ml100k(tmp_path, source_dir=tiny_source) == tmp_path / ML100K


# ---------------------------------------------------------------- failure safety
def test_failing_embedder_leaves_no_folder(tiny_source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match="exploded"):
        prepare_ml100k(root, embedder=FailingEmbedder(), source_dir=tiny_source)
    assert list(root.iterdir()) == []


def test_failing_rebuild_keeps_the_complete_old_folder(tiny_source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = prepare_ml100k(root, embedder=HashEmbedder(), source_dir=tiny_source)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(RuntimeError):
        prepare_ml100k(root, embedder=FailingEmbedder(), source_dir=tiny_source, force=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in root.iterdir()] == [ML100K]


def test_atomic_write_replaces_whole_file_or_nothing(tmp_path: Path) -> None:
    tmp_path = tmp_path / "atomic"  # the cwd (conftest) is tmp_path itself; keep this folder private
    tmp_path.mkdir()
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\n")
    assert target.read_text() == "first\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    with pytest.raises(KeyError):
        with atomic_open(target) as handle:
            handle.write("half of a new ")
            raise KeyError("interrupted")
    assert target.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "fresh.json", {"unserialisable": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_staged_directory_is_all_or_nothing(tmp_path: Path) -> None:
    tmp_path = tmp_path / "staged"
    target = tmp_path / "ds"
    with staged_directory(target) as staging:
        (staging / "a").write_text("old")
    assert (target / "a").read_text() == "old"

    with pytest.raises(ValueError):
        with staged_directory(target) as staging:
            (staging / "a").write_text("new")
            raise ValueError("stop")
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]

    with staged_directory(target) as staging:
        (staging / "b").write_text("new")
    assert [p.name for p in target.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


# ---------------------------------------------------------------- command line
def test_cli_builds_then_reuses(tmp_path: Path, monkeypatch, capsys) -> None:
    stub = HashEmbedder(name=DEFAULT_EMBEDDER_NAME)
    monkeypatch.setattr(movielens, "SentenceTransformerEmbedder", lambda: stub)
    assert main(["ml-100k", "--data-root", str(tmp_path), "--seed", "3"]) == 0
    assert main(["ml-100k", "--data-root", str(tmp_path), "--seed", "3"]) == 0
    assert stub.calls == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tmp_path / ML100K)
    assert read_manifest(tmp_path / ML100K)["params"]["seed"] == 3


# ---------------------------------------------------------------- RecBole compatibility
@pytest.mark.filterwarnings("ignore:A value is trying to be set on a copy:FutureWarning")  # inside RecBole
def test_recbole_loads_prepared_folder(built: Path) -> None:
    """RecBole reads the fixed splits and preloads the vectors row-aligned with its internal ids."""
    from recbole.config import Config
    from recbole.data import create_dataset

    layout = {s: FILE_LAYOUT[s] for s in (USER_SUFFIX, ITEM_SUFFIX)}
    config = Config(
        model="BPR",
        dataset=ML100K,
        config_dict={
            "benchmark_filename": list(SPLITS),
            "load_col": {"inter": ["user_id", "item_id"], **{s: [c for p in layout[s] for c in p] for s in layout}},
            "additional_feat_suffix": list(layout),
            "alias_of_user_id": [id_col for id_col, _ in layout[USER_SUFFIX]],
            "alias_of_item_id": [id_col for id_col, _ in layout[ITEM_SUFFIX]],
            "preload_weight": {id_col: value for s in layout for id_col, value in layout[s]},
            "use_gpu": False,
            "state": "ERROR",
        },
    )
    config["data_path"] = str(built)  # RecBole always points ml-100k at its bundled copy
    dataset = create_dataset(config)
    assert dataset.inter_num == sum(len(_data_lines(built / f"{ML100K}.{s}.inter")) for s in SPLITS)

    intent_id, intent_col = layout[USER_SUFFIX][1]
    weights = dataset.get_preload_weight(intent_id)
    frame = read_atomic(built / f"{ML100K}.{USER_SUFFIX}").frame
    for raw_id, cell in zip(frame[intent_id][:50], frame[intent_col][:50]):
        np.testing.assert_allclose(weights[dataset.token2id("user_id", raw_id)], parse_float_seq(cell))
