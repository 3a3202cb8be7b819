"""Issue #13 (hardening), the dataset_prep side: interrupted and failing runs keep
every served answer, vectors must survive the cast to float32, odd ids stay
strings, broken inputs are named by file, line and column, counts are checked
by argparse, and a prepared folder is reused only while its outputs hash the same.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from dataset_prep.__main__ import build_parser, main
from dataset_prep.embed import embed_texts
from dataset_prep.embed_folder import EmbedInputError, embed_folder, read_texts_strict
from dataset_prep.errors import InputError
from dataset_prep.llm.cache import AnswerCache
from dataset_prep.llm.openai_embed import EmbeddingResponseError, OpenAIEmbedder
from dataset_prep.manifest import MANIFEST_FORMAT, read_manifest
from dataset_prep.movielens import ML100K, prepare_ml100k
from dataset_prep.recbole_io import read_atomic
from dataset_prep.rlmrec import RLMRecInputError, convert_rlmrec
from dataset_prep.text_records import read_text_records
from dataset_prep.vector_cache import VectorCache, text_sha
from fake_openai import FakeOpenAI, Reply, chat_completion, embedding_response, text_vector
from test_dataset_prep import HashEmbedder, _write_source
from test_embed import StubEmbedder, feature_rows
from test_embed import write_shop as write_embed_shop
from test_intents import ITEMS, NAME, SECRET, TASK_COUNT, USERS, good_content, ok_records, request_info, write_shop

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "data")


def slow_good(delay: float):
    def script(kind: str, body: dict, attempt: int) -> Reply:
        task, entity, _ = request_info(body)
        return Reply(200, chat_completion(good_content(task, entity)), delay=delay)

    return script


def subprocess_env(server: FakeOpenAI) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET,
            "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


# ------------------------------------------------- 4. Ctrl-C and fatal errors
def test_sigint_midway_caches_every_served_answer_and_exits_with_one_line(shop: Path, tmp_path: Path) -> None:
    cache_path = shop / f"{NAME}.llmcache.jsonl"
    command = [sys.executable, "-m", "dataset_prep", "intents", str(shop), "--backend", "openai",
               "--model", "fake-model", "--concurrency", "4", "--max-retries", "0", "--timeout", "10"]
    with FakeOpenAI(slow_good(0.4)) as server:
        # a shell's background job starts with SIGINT ignored, and Python then keeps it ignored:
        # give the child the disposition an interactive Ctrl-C finds
        process = subprocess.Popen(command, env=subprocess_env(server), cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.count("chat", 200) < 6:
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)  # requests are in flight now: 4 workers, 0.4 s per reply
        _, err = process.communicate(timeout=60)
        server.wait_idle()
        served = server.count("chat", 200)

    cached = len(ok_records(cache_path))
    assert 6 <= served < TASK_COUNT  # really stopped midway
    assert cached == served  # every answer the server gave is on disk
    assert process.returncode != 0
    assert "Traceback" not in err, err
    summary = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(summary) == 1, err
    assert f"{served} new answer(s)" in summary[0] and "run the same command again" in summary[0]


def test_a_404_midway_caches_every_served_answer(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    arrivals = itertools.count()

    def script(kind: str, body: dict, attempt: int) -> Reply:
        if next(arrivals) >= 5:
            return Reply.error(404, "The model `fake-model` does not exist")  # e.g. the model was unloaded
        return slow_good(0.4)(kind, body, attempt)

    with FakeOpenAI(script) as server:
        code = main(["intents", str(shop), "--backend", "openai", "--model", "fake-model", "--base-url",
                     server.base_url, "--concurrency", "4", "--max-retries", "0", "--timeout", "10"])
        server.wait_idle()
        served = server.count("chat", 200)

    err = capsys.readouterr().err
    assert code == 2 and "NotFoundError" in err and "Traceback" not in err
    cache_path = shop / f"{NAME}.llmcache.jsonl"
    assert cache_path.is_file()
    assert served == 5 and len(ok_records(cache_path)) == served
    assert "5 new answer(s)" in err


def test_embed_interrupted_keeps_the_vectors_received_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    folder, texts = write_embed_shop(tmp_path / "data")

    class CtrlCOnSecondBatch(StubEmbedder):
        def __call__(self, batch: list[str]) -> np.ndarray:
            if self.batches:
                raise KeyboardInterrupt
            return super().__call__(batch)

    stub = CtrlCOnSecondBatch()
    monkeypatch.setattr("dataset_prep.embed_folder.make_embedder", lambda spec, **kwargs: stub)
    assert main(["embed", str(folder), "--batch-size", "5"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: 5 new vector(s) this run are cached in ")
    cache = VectorCache(folder / f"{NAME}.embcache.jsonl")
    assert len(cache) == 5 and cache.missing("stub", stub.batches[0]) == []
    assert not (folder / f"{NAME}.useremb").exists()


# ---------------------------------------------------- 7. finite in float32
def test_openai_vectors_must_be_finite_numbers_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    bad_values = iter([1e39, "0.5", None])

    def script(kind: str, body: dict, attempt: int) -> Reply:
        response = embedding_response(body["input"], dim=4)
        response["data"][1]["embedding"][2] = next(bad_values)
        return Reply(200, response)

    with FakeOpenAI(script) as server:
        embedder = OpenAIEmbedder("fake-embed", base_url=server.base_url, max_retries=0, timeout=5)
        with pytest.raises(EmbeddingResponseError, match=r"vector 1 .*not finite in float32"):
            embedder(["a", "b", "c"])  # 1e39 is a fine float64 but inf in float32
        for _ in range(2):
            with pytest.raises(EmbeddingResponseError, match=r"vector 1 holds a value that is not a number"):
                embedder(["a", "b", "c"])

    class Huge:
        name = "huge"

        def __call__(self, texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), 3))
            out[1, 0] = 1e39
            return out

    with pytest.raises(ValueError, match=r"row 1 .*float32"):
        embed_texts(Huge(), ["x", "y"])


def test_rlmrec_float64_pickle_that_overflows_float32_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pairs = {"trn": [(0, 0), (1, 1), (2, 2)], "val": [(0, 1)], "tst": [(1, 2)]}
    for split, cells in pairs.items():
        rows, cols = zip(*cells)
        with open(src / f"{split}_mat.pkl", "wb") as handle:
            pickle.dump(sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(3, 3)), handle)
    vectors = {name: np.ones((3, 4)) for name in ("usr_emb_np", "itm_emb_np", "user_intent_emb_3",
                                                  "item_intent_emb_3")}
    vectors["user_intent_emb_3"][2, 1] = 1e39
    for name, array in vectors.items():
        with open(src / f"{name}.pkl", "wb") as handle:
            pickle.dump(array, handle)
    with pytest.raises(RLMRecInputError, match=r"user_intent_emb_3\.pkl: row 2 .*float32"):
        convert_rlmrec(src, "tiny-bench", data_root=tmp_path / "out")


def test_vector_cache_entry_that_decodes_to_nan_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "vectors.jsonl"
    cache = VectorCache(path)
    cache.add("m", ["good"], np.ones((1, 2)))
    nan = base64.b64encode(np.array([np.nan, 1.0], dtype="<f4").tobytes()).decode()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"m": "m", "h": text_sha("bad"), "d": 2, "v": nan}) + "\n")
    with caplog.at_level(logging.WARNING):
        reopened = VectorCache(path)
    assert reopened.skipped_lines == 1 and "line 2" in caplog.text
    assert reopened.get("m", "bad") is None and reopened.missing("m", ["good", "bad"]) == ["bad"]
    with pytest.raises(ValueError, match="not finite"):
        reopened.add("m", ["huge"], np.array([[1e39, 0.0]]))


# ------------------------------------------------ 8. ids spelled like missing
ODD_IDS = ["nan", "None", "NA"]


def test_ids_spelled_nan_none_na_keep_their_own_rows(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    head = "user_id:token\titem_id:token\trating:float\n"
    train = [(u, i, 5 if (a + b) % 2 else 1) for a, u in enumerate(ODD_IDS) for b, i in enumerate(ODD_IDS) if a != b]
    (folder / "odd.train.inter").write_text(head + "".join(f"{u}\t{i}\t{r}\n" for u, i, r in train))
    for part, shift in (("valid", 0), ("test", 1)):
        rows = "".join(f"{u}\t{ODD_IDS[(k + shift) % 3]}\t3\n" for k, u in enumerate(ODD_IDS))
        (folder / f"odd.{part}.inter").write_text(head + rows)
    (folder / "odd.item").write_text("item_id:token\ttitle:token_seq\nnan\tNot a Number\nNone\tNobody\nNA\tNowhere\n")

    assert main(["intents", str(folder), "--backend", "offline"]) == 0
    for side in ("user", "item"):
        records = read_text_records(folder / f"odd.{side}.texts.jsonl")
        assert sorted(r.id for r in records) == sorted(ODD_IDS)
        assert len({(r.profile, r.intent) for r in records}) == 3  # each written from its own rows
    items = {r.id: r for r in read_text_records(folder / "odd.item.texts.jsonl")}
    assert items["None"].profile.startswith("Nobody") and items["NA"].profile.startswith("Nowhere")

    embed_folder(folder, "odd", StubEmbedder(), progress=False)
    for side, suffix in (("user", "useremb"), ("item", "itememb")):
        rows = feature_rows(folder / f"odd.{suffix}")
        texts = {r.id: r for r in read_text_records(folder / f"odd.{side}.texts.jsonl")}
        assert sorted(rows) == sorted(ODD_IDS)
        for raw_id, (profile, _) in rows.items():
            assert np.allclose(profile, text_vector(texts[raw_id].profile, 8), atol=1e-6)

    # A texts line whose id is JSON null is not the user "None".
    path = folder / "odd.user.texts.jsonl"
    path.write_text(path.read_text() + json.dumps({"id": None, "profile": "p", "intent": "i"}) + "\n")
    with pytest.raises(EmbedInputError, match=r"odd\.user\.texts\.jsonl:4: id must be a string"):
        read_texts_strict(path)
    with pytest.raises(InputError, match=r"odd\.user\.texts\.jsonl:4: id must be a string"):
        read_text_records(path)


# ----------------------------------------------------- 9. broken input files
def _edit(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[line - 1] = text
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    "file, line, text, expected",
    [
        ("train.inter", 3, "u0\ti1\tfive\tok\t1001\n",
         r"shop\.train\.inter:3: column 'rating': 'five' is not a number"),
        ("train.inter", 1, "user_id:token\titem_id:token\trating:floot\treview:token_seq\ttimestamp:float\n",
         r"shop\.train\.inter:1: column 3 'rating:floot'.*token, token_seq, float, float_seq"),
        ("train.inter", 4, "u0\ti2\t5\tgood\t1000\textra\n", r"shop\.train\.inter:4: .*6 fields.*header has 5"),
        ("item", None, "", r"shop\.item: empty file"),
        ("item", None, "item_id:token\tvec:float_seq\n", None),  # header only: no attributes, fine
        ("user", 2, "u0\t20,5\n", r"shop\.user:2: column 'age': '20,5' is not a number"),
    ],
)
def test_broken_atomic_files_name_file_line_and_column(
    shop: Path, capsys: pytest.CaptureFixture, file: str, line: int | None, text: str, expected: str | None
) -> None:
    path = shop / f"{NAME}.{file}"
    if line is None:
        path.write_text(text)  # the whole file
    else:
        _edit(path, line, text)
    code = main(["intents", str(shop), "--backend", "offline", "--tasks", "item_profile"])
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0, err
        return
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(expected, err), err


def test_float_seq_cells_with_commas_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.itememb"
    path.write_text("iid:token\tvec:float_seq\n1\t0.1 0.2\n\n2\t0.1,0.2\n")
    with pytest.raises(InputError, match=r"x\.itememb:4: column 'vec': .*comma"):
        read_atomic(path)


@pytest.mark.parametrize("content", ["header", "zero bytes"])
def test_intents_on_an_empty_training_file_warns_and_asks_only_entities_with_evidence(
    shop: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys, content: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    train = shop / f"{NAME}.train.inter"
    train.write_text(train.read_text().splitlines(keepends=True)[0] if content == "header" else "")
    (shop / f"{NAME}.user").unlink()  # users now have neither interactions nor attributes
    asked: list[tuple[str, str]] = []

    def script(kind: str, body: dict, attempt: int) -> Reply:
        task, entity, _ = request_info(body)
        asked.append((task, entity))
        return Reply(200, chat_completion(good_content(task, entity)))

    caplog.set_level(logging.WARNING)
    with FakeOpenAI(script) as server:
        code = main(["intents", str(shop), "--backend", "openai", "--model", "m", "--base-url", server.base_url])
    assert code == 0
    warnings = [r.getMessage() for r in caplog.records if str(train) in r.getMessage()]
    assert len(warnings) == 1 and "no training interactions" in warnings[0]
    # Items (those of the held-out files) still have their .item attributes; users have nothing to
    # write from and are not asked.
    held_out = {line.split("\t")[1] for part in ("valid", "test")
                for line in (shop / f"{NAME}.{part}.inter").read_text().splitlines()[1:]}
    assert held_out < set(ITEMS)
    assert sorted(asked) == sorted((t, i) for t in ("item_profile", "item_intent") for i in held_out)
    out = capsys.readouterr().out
    assert f"skipped {len(USERS)} user(s)" in out


def test_embed_refuses_empty_texts_and_header_only_interactions(tmp_path: Path) -> None:
    folder, _ = write_embed_shop(tmp_path / "a")
    texts = folder / f"{NAME}.item.texts.jsonl"
    texts.write_text("\n")
    with pytest.raises(EmbedInputError, match=r"shop\.item\.texts\.jsonl: no texts"):
        embed_folder(folder, NAME, StubEmbedder(), progress=False)

    folder, _ = write_embed_shop(tmp_path / "b")
    for part in ("train", "valid", "test"):
        path = folder / f"{NAME}.{part}.inter"
        path.write_text(path.read_text().splitlines(keepends=True)[0])
    with pytest.raises(EmbedInputError, match=r"no interactions in .*shop\.train\.inter"):
        embed_folder(folder, NAME, StubEmbedder(), progress=False)


def test_ml100k_source_with_a_bad_rating_or_no_rows_is_named(tmp_path: Path) -> None:
    source = _write_source(tmp_path / "source", [(1, 10, 5, 100), (1, 11, "x", 101), (2, 10, 3, 102)])
    with pytest.raises(InputError, match=r"ml-100k\.inter:3: column 'rating': 'x'"):
        prepare_ml100k(tmp_path / "root", embedder=HashEmbedder(), source_dir=source)
    source = _write_source(tmp_path / "empty", [])
    with pytest.raises(InputError, match=r"ml-100k\.inter: no interactions"):
        prepare_ml100k(tmp_path / "root", embedder=HashEmbedder(), source_dir=source)
    assert not (tmp_path / "root" / ML100K).exists()


# --------------------------------------------- 10. physical line numbers
def test_errors_count_blank_lines(tmp_path: Path, shop: Path) -> None:
    texts = tmp_path / "t.texts.jsonl"
    texts.write_text('{"id": "a", "profile": "p", "intent": "i", "evidence": []}\n\n{"id": "b", "prof\n')
    with pytest.raises(InputError, match=r"t\.texts\.jsonl:3: "):
        read_text_records(texts)
    with pytest.raises(EmbedInputError, match=r"t\.texts\.jsonl:3: "):
        read_texts_strict(texts)

    cache = tmp_path / "answers.jsonl"
    cache.write_text('{"key": "k", "status": "ok", "answer": {}}\n\nnot a record\n')
    with pytest.raises(InputError, match=r"answers\.jsonl:3: "):
        AnswerCache(cache)

    train = shop / f"{NAME}.train.inter"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[:2] + ["\n", "u9\ti1\tbad\tx\t1\n"] + lines[2:]))
    with pytest.raises(InputError, match=r"shop\.train\.inter:4: column 'rating'"):
        read_atomic(train)


# ------------------------------------------------- 11. negative counts
@pytest.mark.parametrize(
    "argv, flag",
    [
        (["intents", "f", "--max-reasks", "-1"], "--max-reasks"),
        (["intents", "f", "--limit-items", "-2"], "--limit-items"),
        (["intents", "f", "--limit-users", "-1"], "--limit-users"),
        (["intents", "f", "--max-user-items", "0"], "--max-user-items"),
        (["intents", "f", "--max-item-reviews", "-1"], "--max-item-reviews"),
        (["intents", "f", "--max-field-chars", "0"], "--max-field-chars"),
        (["intents", "f", "--concurrency", "0"], "--concurrency"),
        (["intents", "f", "--max-retries", "-1"], "--max-retries"),
        (["intents", "f", "--timeout", "0"], "--timeout"),
        (["intents", "f", "--timeout", "nan"], "--timeout"),
        (["intents", "f", "--max-tokens", "0"], "--max-tokens"),
        (["intents", "f", "--temperature", "-0.5"], "--temperature"),
        (["intents", "f", "--repetition-penalty", "0"], "--repetition-penalty"),
        (["intents", "f", "--seed", "-1"], "--seed"),
        (["embed", "f", "--batch-size", "0"], "--batch-size"),
        (["embed", "f", "--dimensions", "-8"], "--dimensions"),
        (["embed", "f", "--max-retries", "-3"], "--max-retries"),
        (["embed", "f", "--timeout", "-1"], "--timeout"),
        (["ml-100k", "--seed", "-1"], "--seed"),
        (["ml-100k", "--ratios", "0.8,-0.1,0.3"], "--ratios"),
    ],
)
def test_negative_counts_are_refused_by_argparse(argv: list[str], flag: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "Traceback" not in err


def test_zero_is_accepted_where_it_means_none() -> None:
    args = build_parser().parse_args(["intents", "f", "--max-reasks", "0", "--max-retries", "0", "--limit-items",
                                      "0", "--max-item-reviews", "0", "--temperature", "0"])
    assert (args.max_reasks, args.max_retries, args.limit_items, args.max_item_reviews) == (0, 0, 0, 0)


# ------------------------------------------------- 12. manifest hashes
def test_same_size_edit_of_an_output_is_not_reused(tmp_path: Path) -> None:
    source = _write_source(tmp_path / "source", [(1, 10 + k % 6, 1 + k % 5, 1000 + k) for k in range(10)])
    root = tmp_path / "root"
    folder = prepare_ml100k(root, embedder=HashEmbedder(), source_dir=source)
    manifest = read_manifest(folder)
    assert manifest["params"]["format"] == MANIFEST_FORMAT >= 3
    assert all(len(info["sha256"]) == 64 for info in manifest["outputs"].values())

    path = folder / f"{ML100K}.train.inter"
    original = path.read_bytes()
    position = original.index(b"\n") + 1  # first byte of the first data row: a user id digit
    other = b"2" if original[position:position + 1] != b"2" else b"3"
    flipped = original[:position] + other + original[position + 1:]
    path.write_bytes(flipped)
    assert path.stat().st_size == len(original)

    again = HashEmbedder()
    prepare_ml100k(root, embedder=again, source_dir=source)
    assert again.calls == 1  # rebuilt, not reused
    assert path.read_bytes() == original


# ------------------------------------------- 13. one line, traceback on --debug
def test_input_errors_print_one_line_and_a_traceback_only_with_debug(shop: Path, capsys) -> None:
    _edit(shop / f"{NAME}.train.inter", 2, "u0\ti0\tfive\tgreat fun\t1000\n")
    assert main(["intents", str(shop)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {shop / NAME}.train.inter:2: column 'rating': 'five' is not a number"]

    for argv in (["intents", str(shop), "--debug"], ["--verbose", "intents", str(shop)], ["-v", "intents", str(shop)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "AtomicFileError" in err, argv
        assert err.rstrip().splitlines()[-1].startswith("error: "), argv
