"""Cold start (issue 17): the split, the leakage guarantee, cold scoring and its slices."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, tiny_config, write_tiny_dataset
from dataset_prep.cold_split import VALID, TEST, TRAIN, cold_split, read_cold_ids
from dataset_prep.movielens import ML100K, ml100k_source_dir, prepare_ml100k
from dataset_prep.recbole_io import read_atomic
from dataset_prep.text_records import read_text_records
from recbole_irllrec.analysis.cold import ColdNodes, ItemSliceLoader, cold_slices
from recbole_irllrec.config import Config, ConfigError
from recbole_irllrec.data.text_features import ITEM_SUFFIX, USER_SUFFIX
from recbole_irllrec.quick_start import build_data_and_model, load_data_and_model, run_recbole_irllrec
from test_dataset_prep import HashEmbedder

COLD_TINY_ITEMS = ("i0", "i1", "i2", "i3", "i4")


# ------------------------------------------------------------------ the split
def test_cold_split_moves_every_training_row_of_cold_nodes_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    users = np.array([f"u{k}" for k in rng.integers(0, 50, 2000)])
    items = np.array([f"i{k}" for k in rng.integers(0, 80, 2000)])
    assignment = rng.choice([TRAIN, VALID, TEST], size=2000, p=[0.8, 0.1, 0.1]).astype(np.int8)
    split = cold_split(users, items, assignment, item_ratio=0.25, user_ratio=0.1, seed=7)
    assert len(split.items) == 20 and len(split.users) == 5
    cold = np.isin(items, split.items) | np.isin(users, split.users)
    assert not (split.assignment[cold] == TRAIN).any()  # no cold node keeps a training row
    assert np.array_equal(split.assignment[~cold], assignment[~cold])  # warm rows untouched
    assert np.array_equal(split.assignment[assignment != TRAIN], assignment[assignment != TRAIN])
    moved = split.assignment[cold & (assignment == TRAIN)]
    assert set(moved.tolist()) == {VALID, TEST}
    again = cold_split(users, items, assignment, item_ratio=0.25, user_ratio=0.1, seed=7)
    assert again.items == split.items and np.array_equal(again.assignment, split.assignment)
    assert cold_split(users, items, assignment, item_ratio=0.25, user_ratio=0.1, seed=8).items != split.items


def _tamper_rows(source: Path, target: Path, touched) -> None:
    """Copy ``source`` to ``target`` with the rating and timestamp of every row where
    ``touched(user, item)`` is true changed (1 <-> 5, a far timestamp)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.kg", "*.link"))
    inter = read_atomic(source / f"{ML100K}.inter")
    frame = inter.frame.copy()
    rows = np.array([touched(u, i) for u, i in zip(frame["user_id"], frame["item_id"])])
    frame.loc[rows, "rating"] = np.where(frame.loc[rows, "rating"] == "1", "5", "1")
    frame.loc[rows, "timestamp"] = "999999999"
    lines = ["\t".join(inter.header)] + ["\t".join(row) for row in frame.to_numpy().tolist()]
    (target / f"{ML100K}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _records(folder: Path, side: str) -> dict:
    return {r.id: r for r in read_text_records(folder / f"{ML100K}.{side}.texts.jsonl")}


def _vectors(folder: Path, suffix: str) -> dict[str, str]:
    lines = (folder / f"{ML100K}.{suffix}").read_text(encoding="utf-8").splitlines()[1:]
    return {line.split("\t", 1)[0]: line for line in lines}


def test_held_out_interactions_of_cold_nodes_never_reach_their_texts_or_vectors(tmp_path: Path) -> None:
    """Change every interaction of the cold items and users (all held out): their
    texts and vectors, and every other output, stay byte-identical; without the
    cold split the same rows are training rows and do shape those texts."""
    original = tmp_path / "original"
    shutil.copytree(ml100k_source_dir(), original, ignore=shutil.ignore_patterns("*.kg", "*.link"))
    cold = {"cold_item_ratio": 0.2, "cold_user_ratio": 0.1, "cold_seed": 2021}
    first = prepare_ml100k(tmp_path / "one", embedder=HashEmbedder(), source_dir=original, **cold)
    held = read_cold_ids(first / f"{ML100K}.cold.json")
    assert first.name == "ml-100k-cold-i0.2-u0.1-s2021" and len(held["items"]) == 336 and len(held["users"]) == 94
    items, users = set(held["items"]), set(held["users"])

    _tamper_rows(original, tmp_path / "tampered", lambda u, i: u in users or i in items)
    second = prepare_ml100k(tmp_path / "two", embedder=HashEmbedder(), source_dir=tmp_path / "tampered", **cold)
    assert (first / f"{ML100K}.test.inter").read_bytes() != (second / f"{ML100K}.test.inter").read_bytes()
    for name in ("train.inter", "user.texts.jsonl", "item.texts.jsonl", USER_SUFFIX, ITEM_SUFFIX, "cold.json"):
        assert (first / f"{ML100K}.{name}").read_bytes() == (second / f"{ML100K}.{name}").read_bytes(), name

    train = read_atomic(first / f"{ML100K}.train.inter").frame
    assert not set(train["item_id"]) & items and not set(train["user_id"]) & users
    item_texts, user_texts = _records(first, "item"), _records(first, "user")
    assert all(item_texts[i].evidence == () and "no ratings in the training data" in item_texts[i].profile for i in items)
    assert all(user_texts[u].evidence == () for u in users)
    # the guard is what keeps them out: in the ordinary split most of those rows train, and show
    warm = prepare_ml100k(tmp_path / "warm", embedder=HashEmbedder(), source_dir=original)
    warm_items = _records(warm, "item")
    assert sum(warm_items[i].profile != item_texts[i].profile for i in items) > 300
    cold_vectors, warm_vectors = _vectors(first, ITEM_SUFFIX), _vectors(warm, ITEM_SUFFIX)
    assert sum(cold_vectors[i] != warm_vectors[i] for i in items) > 300


# ------------------------------------------------------------------ config
def test_cold_keys_pick_the_embedded_folder_and_are_refused_elsewhere(tmp_path, tiny_data) -> None:
    config = Config(model="GraphCF", dataset=ML100K, config_dict={"data_path": str(tmp_path), "cold_item_ratio": 0.2})
    assert config["data_path"] == str(tmp_path / "ml-100k-cold-i0.2-u0-s2020")
    assert Config(model="GraphCF", dataset=ML100K, config_dict={"data_path": str(tmp_path)})["data_path"] == str(
        tmp_path / ML100K
    )
    with pytest.raises(ConfigError, match="dataset_prep cold-split"):
        Config(model="GraphCF", dataset=TINY, config_dict={**tiny_config(tiny_data, tmp_path), "cold_user_ratio": 0.1})
    with pytest.raises(ValueError, match=r"cold_item_ratio must be a number in \[0, 1\), got 1.5"):
        Config(model="GraphCF", dataset=ML100K, config_dict={"data_path": str(tmp_path), "cold_item_ratio": 1.5})


# ------------------------------------------------------------------ scoring
def _cold_tiny(root: Path) -> Path:
    """The tiny dataset with every training row of COLD_TINY_ITEMS and of user u0 moved to test."""
    folder = write_tiny_dataset(root / "data")
    train, test = folder / f"{TINY}.train.inter", folder / f"{TINY}.test.inter"
    header, *rows = train.read_text().splitlines(keepends=True)
    cold = [r for r in rows if r.split("\t")[1].strip() in COLD_TINY_ITEMS or r.split("\t")[0] == "u0"]
    train.write_text(header + "".join(r for r in rows if r not in cold))
    test.write_text(test.read_text() + "".join(cold))
    return root / "data"


@pytest.fixture(scope="module")
def cold_checkpoint(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("cold")
    data = _cold_tiny(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["pytest"])
        patch.chdir(root)
        result = run_recbole_irllrec(
            model="IRLLRec", dataset=TINY, config_dict=tiny_config(data, root, intent_num=4, epochs=2)
        )
    return root, result["saved_model_file"]


@pytest.fixture(scope="module")
def cold_loaded(cold_checkpoint):
    root, checkpoint = cold_checkpoint
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["pytest"])
        patch.chdir(root)
        return load_data_and_model(checkpoint)


def _full_scores(model, n_users: int) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model.full_sort_predict({model.USER_ID: torch.arange(n_users)}).view(n_users, -1)


def test_warm_users_and_items_score_bit_for_bit_as_without_cold_scoring(cold_loaded) -> None:
    config, model, dataset, train_data, _, _ = cold_loaded
    nodes = ColdNodes.of(train_data)
    assert len(nodes.cold_items) == len(COLD_TINY_ITEMS) and len(nodes.cold_users) == 1
    warm_users = np.setdiff1d(np.arange(1, dataset.user_num), nodes.cold_users)
    assert model.cold_scoring.choice == config["cold_scoring"] == "vectors"
    # today's code path: the backbone's embeddings, no cold handling at all
    user_e, item_e = model.forward()
    today = (user_e @ item_e.T).detach()
    for choice in ("cf", "intent", "profile", "combined", "vectors"):
        model.use_cold_scoring(choice)
        scores = _full_scores(model, dataset.user_num)
        assert torch.equal(scores[warm_users][:, nodes.warm_items], today[warm_users][:, nodes.warm_items]), choice
        changed = not torch.equal(scores[:, nodes.cold_items], today[:, nodes.cold_items])
        assert changed == (choice != "cf"), choice
        assert torch.isfinite(scores[1:, 1:]).all()


def test_cold_choices_follow_the_towers_a_model_has(cold_loaded, tmp_path, tiny_data) -> None:
    _, model, _, _, _, _ = cold_loaded
    assert model.cold_scoring.available() == ("cf", "intent", "profile", "combined", "vectors")
    with pytest.raises(ValueError, match="cold_scoring must be one of"):
        model.use_cold_scoring("text")
    config = Config(model="RLMRecCon", dataset=TINY, config_dict={**tiny_config(tiny_data, tmp_path), "cold_scoring": "intent"})
    with pytest.raises(ValueError, match="cold_scoring: intent needs the intent tower"):
        build_data_and_model(config)
    config = Config(model="GraphCF", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    _, graph_cf, *_ = build_data_and_model(config)
    with pytest.raises(ValueError, match="GraphCF has no text tower"):
        graph_cf.use_cold_scoring("intent")


def test_cold_slices_rank_cold_items_among_cold_items(cold_loaded) -> None:
    config, model, dataset, train_data, _, test_data = cold_loaded
    nodes = ColdNodes.of(train_data)
    loader = ItemSliceLoader(test_data, nodes.cold_items)
    for uid in loader.uid_list.tolist():
        assert set(loader.uid2positive_item[uid].tolist()) <= set(nodes.cold_items.tolist())
        masked = set(loader.uid2history_item[uid].tolist())
        assert set(nodes.warm_items.tolist()) <= masked and not masked & set(loader.uid2positive_item[uid].tolist())
    model.use_cold_scoring("combined")
    slices = cold_slices(config, model, train_data, test_data, nodes)
    assert set(slices) == {"all", "cold users", "warm users", "cold items", "warm items"}
    assert slices["cold users"]["users"] == 1 and slices["cold items"]["users"] == loader.sample_size
    assert slices["all"]["users"] == slices["cold users"]["users"] + slices["warm users"]["users"]


# ------------------------------------------------------------------ recommend
def _stub_embed(width: int):
    def embed(texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        return rng.normal(size=(len(texts), width)).astype(np.float32)

    return embed


def test_recommend_scores_a_new_user_and_a_new_item_from_text(cold_checkpoint) -> None:
    from recbole_irllrec.recommend import NewNode, recommend

    _, checkpoint = cold_checkpoint
    embed = {"profile": _stub_embed(8), "intent": _stub_embed(12)}  # the tiny dataset's widths
    users = [NewNode("me", "likes tiny things", "likes tiny things")]
    items = [NewNode("new-film", "a tiny film", "attracts tiny viewers")]
    results = recommend(checkpoint, users, items, topk=5, embed=embed)
    assert [(r.side, r.node.id, len(r.top)) for r in results] == [("user", "me", 5), ("item", "new-film", 5)]
    scores = [score for _, score, _ in results[0].top]
    assert scores == sorted(scores, reverse=True)
    assert all(raw.startswith("i") for raw, _, _ in results[0].top) and all(
        raw.startswith("u") for raw, _, _ in results[1].top
    )
    assert "(no text file" in results[0].top[0][2]
    with pytest.raises(ValueError, match="intent vectors of width 8: the model's intent tower reads 12"):
        recommend(checkpoint, users, topk=5, embed=_stub_embed(8))


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    from recbole_irllrec.__main__ import main

    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_recommend_command_names_the_file_or_key_of_bad_input(cold_checkpoint, tmp_path, capsys) -> None:
    root, checkpoint = cold_checkpoint
    missing = tmp_path / "nobody.json"
    status, out = _cli(["recommend", "--model_file", checkpoint, "--input", str(missing)], capsys)
    assert status == 2 and out.strip() == f"error: no such file: {missing}"
    bad = tmp_path / "bad.json"
    bad.write_text('{"users": [{"id": "me",}]}')
    status, out = _cli(["recommend", "--model_file", checkpoint, "--input", str(bad)], capsys)
    assert status == 2 and out.startswith(f"error: {bad}: not JSON (line 1")
    bad.write_text(json.dumps({"users": [{"id": "me", "profile": "x"}, {"id": "you"}]}))
    status, out = _cli(["recommend", "--model_file", checkpoint, "--input", str(bad)], capsys)
    assert status == 2 and out.strip() == f"error: {bad}: users[1]: needs a 'profile' or an 'intent' text"
    status, out = _cli(["recommend", "--model_file", checkpoint, "--user-text", "likes tiny things"], capsys)
    assert status == 2 and "manifest.json records no embedder" in out and "--embedder" in out

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        graph_cf = run_recbole_irllrec(
            model="GraphCF", dataset=TINY, config_dict=tiny_config(_cold_tiny(tmp_path), tmp_path)
        )["saved_model_file"]
    status, out = _cli(["recommend", "--model_file", graph_cf, "--user-text", "likes tiny things"], capsys)
    assert status == 2 and out.strip().startswith(f"error: {graph_cf}: GraphCF has no text tower")


def test_cold_split_command_writes_a_new_folder_for_your_own_dataset(tmp_path, capsys) -> None:
    from dataset_prep.__main__ import main

    source = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "cold" / TINY
    assert main(["cold-split", str(source), str(out), "--cold-item-ratio", "0.25", "--seed", "3"]) == 0
    held = read_cold_ids(out / f"{TINY}.cold.json")
    assert len(held["items"]) == round(0.25 * 40) and held["users"] == []
    train = read_atomic(out / f"{TINY}.train.inter").frame
    assert not set(train["item_id"]) & set(held["items"])
    total = sum(len(read_atomic(folder / f"{TINY}.{s}.inter").frame) for folder in (out,) for s in ("train", "valid", "test"))
    assert total == sum(len(read_atomic(source / f"{TINY}.{s}.inter").frame) for s in ("train", "valid", "test"))
    capsys.readouterr()
    assert main(["cold-split", str(source), str(out), "--cold-item-ratio", "0.25"]) == 2
    assert f"{out} exists" in capsys.readouterr().err


def test_llm_prompts_of_a_cold_split_see_no_held_out_interaction_of_a_cold_node(tmp_path, capsys) -> None:
    """``cold-split`` then ``intents`` (the offline chat backend, through the same prompts an
    LLM gets): rewriting every held-out row of the cold items (rating and review) leaves
    every text the same, and the cold items' texts cite no evidence."""
    from dataset_prep.__main__ import main
    from test_intents import NAME, write_shop

    shop = write_shop(tmp_path / "data")
    out = tmp_path / "cold" / NAME
    assert main(["cold-split", str(shop), str(out), "--cold-item-ratio", "0.25", "--seed", "1"]) == 0
    cold_items = set(read_cold_ids(out / f"{NAME}.cold.json")["items"])
    assert len(cold_items) == 2
    assert main(["intents", str(out), "--backend", "offline"]) == 0
    before = {p.name: p.read_bytes() for p in out.glob("*.texts.jsonl")}
    items = {r.id: r for r in read_text_records(out / f"{NAME}.item.texts.jsonl")}
    users = read_text_records(out / f"{NAME}.user.texts.jsonl")
    assert all(not set(r.evidence) & cold_items for r in users)
    assert all(items[i].evidence in ((), (i,)) for i in cold_items)

    for part in ("valid", "test"):
        path = out / f"{NAME}.{part}.inter"
        head, *lines = path.read_text().splitlines()
        cells = [line.split("\t") for line in lines]
        path.write_text("\n".join([head] + ["\t".join(c[:2] + ["3", "totally different", c[4]]) if c[1] in cold_items
                                            else "\t".join(c) for c in cells]) + "\n")
    (out / f"{NAME}.llmcache.jsonl").unlink()
    assert main(["intents", str(out), "--backend", "offline"]) == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.texts.jsonl")} == before
