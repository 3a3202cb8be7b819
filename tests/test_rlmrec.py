"""convert-rlmrec (RLMRec/IRLLRec splits), the restricted unpickler, the
benchmark property files and the reference test masking."""
from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

import conftest
from conftest import TINY, shared_data, tiny_config
from dataset_prep.__main__ import main as prep_main
from dataset_prep.recbole_io import parse_float_seq, read_atomic
from dataset_prep.rlmrec import RLMRecInputError, convert_rlmrec
from dataset_prep.safe_pickle import UnsafePickleError, load_pickle
from recbole_irllrec.config import Config
from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX
from recbole_irllrec.properties_path import properties_dir
from recbole_irllrec.quick_start import build_data_and_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def splits() -> Path:
    """The published RLMRec splits in ../shared/data (fails under CI=true when missing)."""
    return shared_data("rlmrec-splits")


BENCHMARKS = ("amazon-book", "yelp", "amazon-movie", "steam")


# ------------------------------------------------------------------ helpers
def dump(path: Path, obj) -> Path:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)
    return path


def write_embeddings(folder: Path, n_users: int, n_items: int, profile_dim=8, intent_dim=8, seed=0) -> None:
    """Random profile and intent pickles under the published file names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    dump(folder / "usr_emb_np.pkl", rng.normal(size=(n_users, profile_dim)).astype(np.float32))
    dump(folder / "itm_emb_np.pkl", rng.normal(size=(n_items, profile_dim)).astype(np.float32))
    dump(folder / "user_intent_emb_3.pkl", rng.normal(size=(n_users, intent_dim)))
    dump(folder / "item_intent_emb_3.pkl", rng.normal(size=(n_items, intent_dim)))


def write_tiny_splits(folder: Path, n_users=6, n_items=8, shapes=None) -> Path:
    """Three small coo matrices; the last item has no interaction in any split."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"trn": [(u, u % 6) for u in range(n_users)] + [(u, 6) for u in range(0, n_users, 2)],
            "val": [(u, (u + 1) % 6) for u in range(n_users)],
            "tst": [(u, (u + 2) % 6) for u in range(n_users)]}
    for split, pairs in rows.items():
        shape = (shapes or {}).get(split, (n_users, n_items))
        r, c = zip(*pairs)
        dump(folder / f"{split}_mat.pkl", sp.coo_matrix((np.ones(len(r)), (r, c)), shape=shape))
    return folder


# ------------------------------------------------------------------ safe_pickle
def test_missing_shared_data_fails_under_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path / "nowhere")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nowhere"):
        shared_data("rlmrec-splits")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        shared_data("rlmrec-splits")


def test_real_splits_load_with_the_allow_list(splits):
    matrix = load_pickle(splits / "movie" / "val_mat.pkl")
    assert isinstance(matrix, sp.coo_matrix) and matrix.shape == (16994, 9370) and matrix.nnz == 16799


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_and_sparse_pickles_round_trip(tmp_path, protocol):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    for obj in (array, sp.csr_matrix(array), sp.csc_matrix(array), sp.coo_matrix(array)):
        path = tmp_path / "x.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        loaded = load_pickle(path)
        assert np.array_equal(loaded.toarray() if sp.issparse(loaded) else loaded, array)
        assert type(loaded) is type(obj)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = dump(tmp_path / "usr_emb_np.pkl", _Exploit(marker))
    with pytest.raises(UnsafePickleError) as caught:
        load_pickle(evil)
    message = str(caught.value)
    assert str(evil) in message
    assert re.search(r"(posix|os|nt)\.system", message)
    assert not marker.exists()

    # the same file among the conversion inputs: refused through the CLI, with one clear line
    src = write_tiny_splits(tmp_path / "src")
    write_embeddings(src, 6, 8)
    dump(src / "usr_emb_np.pkl", _Exploit(marker))
    assert prep_main(["convert-rlmrec", str(src), "--name", "evil", "--data-root", str(tmp_path / "out")]) == 2
    assert not marker.exists()
    assert not (tmp_path / "out" / "evil").exists()


def test_builtins_other_than_latin1_encode_are_refused(tmp_path):
    # a pickle that calls builtins.eval / uses _codecs.encode with another codec
    for payload in (b"cbuiltins\neval\n(S'1+1'\ntR.", b"c_codecs\nencode\n(Vabc\nVrot13\ntR."):
        path = tmp_path / "p.pkl"
        path.write_bytes(payload)
        with pytest.raises(UnsafePickleError, match=str(path)):
            load_pickle(path)


# ------------------------------------------------------------------ conversion errors
def test_shape_mismatch_names_files_and_shapes(tmp_path):
    src = write_tiny_splits(tmp_path / "src", shapes={"tst": (6, 7)})
    with pytest.raises(RLMRecInputError) as caught:
        convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out")
    message = str(caught.value)
    assert "trn_mat.pkl 6x8" in message and "tst_mat.pkl 6x7" in message
    assert not (tmp_path / "out" / "tiny-rlm").exists()


def test_embedding_rows_must_match_the_matrices(tmp_path):
    src = write_tiny_splits(tmp_path / "src")
    write_embeddings(src, 6, 7)  # one item row short
    with pytest.raises(RLMRecInputError) as caught:
        convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out")
    message = str(caught.value)
    assert "itm_emb_np.pkl" in message and "7x8" in message and "6x8" in message


def test_missing_files_are_named(tmp_path, capsys):
    src = write_tiny_splits(tmp_path / "src")
    (src / "val_mat.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="val_mat.pkl"):
        convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out")
    assert prep_main(["convert-rlmrec", str(src), "--name", "tiny-rlm", "--data-root", str(tmp_path / "out")]) == 2
    assert "val_mat.pkl" in capsys.readouterr().err

    src = write_tiny_splits(tmp_path / "src2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no embedding pickles"):
        convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out", emb_dir=tmp_path / "empty")
    write_embeddings(src, 6, 8)
    (src / "item_intent_emb_3.pkl").unlink()
    with pytest.raises(RLMRecInputError, match="item_intent_emb_3.pkl is missing"):
        convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out")


def test_ids_without_interactions_get_no_feature_row(tmp_path):
    src = write_tiny_splits(tmp_path / "src")
    write_embeddings(src, 6, 8, profile_dim=3, intent_dim=4)
    folder = convert_rlmrec(src, "tiny-rlm", data_root=tmp_path / "out")
    items = read_atomic(folder / f"tiny-rlm.{ITEM_SUFFIX}")
    assert items.column(FILE_LAYOUT[ITEM_SUFFIX][0][0]) == [str(i) for i in range(7)]  # item 7: vectors, no interaction
    profiles = load_pickle(src / "itm_emb_np.pkl")
    first = parse_float_seq(items.frame[FILE_LAYOUT[ITEM_SUFFIX][0][1]][3])
    assert np.allclose(first, profiles[3], atol=1e-6)
    # RecBole (through TextFeatureDataset) accepts the folder: 4 items + padding
    settings = tiny_config(tmp_path / "out", tmp_path) | {"topk": [5], "valid_metric": "Recall@5"}  # 7 items
    config = Config(model="BPR", dataset="tiny-rlm", config_dict=settings)
    dataset, *_ = build_data_and_model(config)
    assert dataset.item_num == 8 and dataset.user_num == 7  # 7 items / 6 users + padding


# ------------------------------------------------------------------ properties
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_properties_carry_the_reference_protocol(name):
    props = yaml.safe_load((properties_dir() / "dataset" / f"{name}.yaml").read_text())
    assert props["benchmark_filename"] == ["train", "valid", "test"]
    assert props["test_mask_valid_items"] is False
    assert props["train_batch_size"] == 4096 and props["learning_rate"] == 1e-3
    assert props["eval_step"] == 3 and props["stopping_step"] == 5 and props["seed"] == 2023
    assert props["valid_metric"] == "Recall@20" and props["topk"] == [5, 10, 20]
    assert props["train_neg_sample_args"]["sample_num"] == 1
    assert props["normalize_all"] is False
    assert set(props["preload_weight"].values()) == {"user_profile", "user_intent", "item_profile", "item_intent"}


def test_masking_default_is_recbole_and_benchmarks_override_it(tmp_path):
    config = Config(model="BPR", dataset=TINY, config_dict={"data_path": str(tmp_path)})
    assert config["test_mask_valid_items"] is True
    config = Config(model="IRLLRec", dataset="amazon-book", config_dict={"data_path": str(tmp_path)})
    assert config["test_mask_valid_items"] is False
    assert config["kd_int_weight"] == 2e-2 and config["train_batch_size"] == 4096


# ------------------------------------------------------------------ test masking
@pytest.mark.parametrize("mask_valid", [True, False])
def test_validation_items_masked_at_test_only_on_request(tiny_data, tmp_path, mask_valid):
    from recbole.utils import get_trainer

    config = Config(model="BPR", dataset=TINY,
                    config_dict=tiny_config(tiny_data, tmp_path, test_mask_valid_items=mask_valid))
    dataset, model, train_data, valid_data, test_data = build_data_and_model(config)
    valid_items = {int(u): set(valid_data.uid2positive_item[u].tolist()) for u in valid_data.uid_list.tolist()}
    train = train_data._dataset.inter_feat
    train_items: dict[int, set] = {}
    for u, i in zip(train[dataset.uid_field].tolist(), train[dataset.iid_field].tolist()):
        train_items.setdefault(u, set()).add(i)

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.tot_item_num = dataset.item_num
    checked = 0
    for batch in test_data:
        interaction, scores, _, _ = trainer._full_sort_batch_eval(batch)
        for row, uid in enumerate(interaction[dataset.uid_field].tolist()):
            masked = set(np.flatnonzero(np.isinf(scores[row].detach().numpy())).tolist()) - {0}
            assert train_items[uid] <= masked  # training items are always masked
            if mask_valid:
                assert valid_items[uid] <= masked
            else:
                assert masked == train_items[uid]  # validation items stay candidates
            checked += 1
    assert checked == len(test_data.uid_list) > 0


# ------------------------------------------------------------------ the published amazon split
def test_convert_published_amazon_split(tmp_path, splits):
    emb = tmp_path / "emb"
    write_embeddings(emb, 11000, 9332)
    started = time.perf_counter()
    status = prep_main(["convert-rlmrec", str(splits / "amazon"), "--name", "amazon-book",
                        "--data-root", str(tmp_path / "data"), "--emb-dir", str(emb)])
    seconds = time.perf_counter() - started
    assert status == 0
    folder = tmp_path / "data" / "amazon-book"
    counts = {s: len(read_atomic(folder / f"amazon-book.{s}.inter").frame) for s in ("train", "valid", "test")}
    assert counts == {"train": 120464, "valid": 40290, "test": 40106}
    train = read_atomic(folder / "amazon-book.train.inter")
    assert train.header == ("user_id:token", "item_id:token")
    assert train.frame.iloc[0].tolist() == ["0", "0"]
    users = read_atomic(folder / f"amazon-book.{USER_SUFFIX}")
    items = read_atomic(folder / f"amazon-book.{ITEM_SUFFIX}")
    assert users.column(FILE_LAYOUT[USER_SUFFIX][0][0]) == [str(u) for u in range(11000)]
    assert len(items.frame) == 9332
    intents = load_pickle(emb / "user_intent_emb_3.pkl")
    last = parse_float_seq(users.frame[FILE_LAYOUT[USER_SUFFIX][1][1]].iloc[-1])
    assert np.allclose(last, intents[-1], atol=1e-5)
    assert seconds < 30, f"conversion took {seconds:.1f} s"
    # a second call reuses the folder (manifest matches)
    before = (folder / "amazon-book.train.inter").stat().st_mtime_ns
    convert_rlmrec(splits / "amazon", "amazon-book", data_root=tmp_path / "data", emb_dir=emb)
    assert (folder / "amazon-book.train.inter").stat().st_mtime_ns == before


def _subsample_amazon(splits: Path, folder: Path, n_users: int, n_items: int) -> Path:
    """The top-left n_users x n_items block of each published amazon matrix."""
    folder.mkdir(parents=True)
    for split in ("trn", "val", "tst"):
        block = load_pickle(splits / "amazon" / f"{split}_mat.pkl").tocsr()[:n_users, :n_items].tocoo()
        dump(folder / f"{split}_mat.pkl", block)
    write_embeddings(folder, n_users, n_items)
    return folder


def _run_one_epoch(tmp_path: Path, src: Path) -> tuple[float, str]:
    """convert-rlmrec, then one IRLLRec epoch through run_recbole_irllrec.py as a
    subprocess with the amazon-book properties; returns (seconds, log)."""
    data = tmp_path / "data"
    assert prep_main(["convert-rlmrec", str(src), "--name", "amazon-book", "--data-root", str(data)]) == 0
    config = tmp_path / "quick.yaml"
    config.write_text(yaml.safe_dump({
        "data_path": str(data), "checkpoint_dir": str(tmp_path / "saved"), "gpu_id": "", "use_gpu": False,
        "epochs": 1, "eval_step": 1, "show_progress": False, "embedding_size": 16, "intent_num": 16,
        # The in-batch InfoNCE terms cost O(batch^2): 4096 (the protocol) takes ~4 s a batch on one
        # CPU thread, 1024 a quarter of the epoch's time. Everything else is the benchmark file's.
        "train_batch_size": 1024,
    }))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(REPO / "run_recbole_irllrec.py"), "--model=IRLLRec", "--dataset=amazon-book",
               f"--config_files={config}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert re.search(r"test result.*recall@20", log), log[-3000:]
    assert re.search(r"test_mask_valid_items = False", log)  # the benchmark file's reference masking
    return seconds, log


def test_one_epoch_on_a_subsample_of_amazon(tmp_path, splits):
    src = _subsample_amazon(splits, tmp_path / "src", n_users=1500, n_items=1500)
    seconds, log = _run_one_epoch(tmp_path, src)
    # the block leaves some users without any interaction: their vector rows were left out
    stats = json.loads((tmp_path / "data" / "amazon-book" / "manifest.json").read_text())["stats"]
    assert stats["users_without_interactions"] > 0 and stats["users"] + stats["users_without_interactions"] == 1500


def test_one_epoch_on_the_published_amazon_split(tmp_path, capsys, splits):
    src = tmp_path / "src"
    src.mkdir()
    for split in ("trn", "val", "tst"):
        (src / f"{split}_mat.pkl").symlink_to(splits / "amazon" / f"{split}_mat.pkl")
    write_embeddings(src, 11000, 9332)
    seconds, log = _run_one_epoch(tmp_path, src)
    assert "epoch 0 training" in log
    # RecBole counts the padding id too; 120,464 + 40,290 + 40,106 interactions in all
    assert "The number of users: 11001" in log and "The number of items: 9333" in log
    assert "The number of inters: 200860" in log
    with capsys.disabled():
        print(f"\nconvert-rlmrec + one IRLLRec epoch on the published amazon split: {seconds:.0f} s")


# ------------------------------------------------------------------ files added to a converted folder (issue 15)
def test_a_rebuild_keeps_the_files_other_commands_added(tmp_path, caplog):
    src = write_tiny_splits(tmp_path / "src")
    folder = convert_rlmrec(src, "shop", data_root=tmp_path / "data")
    (folder / "shop.useremb").write_text("vectors written by `dataset_prep embed`\n")
    caplog.set_level("WARNING")
    convert_rlmrec(src, "shop", data_root=tmp_path / "data", force=True)
    assert (folder / "shop.useremb").read_text() == "vectors written by `dataset_prep embed`\n"
    assert "shop.useremb" in caplog.text
    # and they are not taken for the converter's own outputs
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "shop.useremb" not in manifest["outputs"]


def test_the_converters_own_vectors_replace_added_ones(tmp_path):
    src = write_tiny_splits(tmp_path / "src")
    folder = convert_rlmrec(src, "shop", data_root=tmp_path / "data")
    (folder / "shop.useremb").write_text("stale\n")
    write_embeddings(src, 6, 8)
    convert_rlmrec(src, "shop", data_root=tmp_path / "data")
    assert (folder / "shop.useremb").read_text() != "stale\n"
