"""`python -m dataset_prep embed`: texts files to feature files, against a real HTTP server.

The server (tests/fake_openai.py) answers /embeddings with deterministic
vectors per text and is scripted with 500s, 429s and timeouts. Tests count
the texts it was asked to embed, to prove that no vector is paid for twice,
including across a killed run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY, tiny_config, write_tiny_dataset
from dataset_prep.__main__ import main
from dataset_prep.embed_folder import EmbedInputError, embed_folder, read_texts_strict
from dataset_prep.features import feature_header
from dataset_prep.llm.backend import FatalBackendError
from dataset_prep.llm.openai_embed import EmbeddingResponseError, OpenAIEmbedder
from dataset_prep.recbole_io import parse_float_seq, read_atomic
from dataset_prep.text_records import TextRecord, write_text_records
from dataset_prep.vector_cache import VectorCache
from fake_openai import FakeOpenAI, Reply, embedding_response, text_vector

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-embed-test-DO-NOT-LEAK-7171"
NAME = "shop"
DIM = 16


def write_texts(folder: Path, name: str, users: list[str], items: list[str]) -> set[str]:
    """Texts for every id; item intents repeat (3 distinct), so deduplication shows. Returns the unique texts."""
    users_records = [TextRecord(u, f"profile of user {u}", f"{u} wants calm games", (items[0],)) for u in users]
    items_records = [TextRecord(i, f"profile of item {i}", f"Attracts users who like genre {k % 3}", (i,))
                     for k, i in enumerate(items)]
    write_text_records(folder / f"{name}.user.texts.jsonl", users_records)
    write_text_records(folder / f"{name}.item.texts.jsonl", items_records)
    return {t for r in users_records + items_records for t in (r.profile, r.intent)}


def write_shop(root: Path, n_users: int = 6, n_items: int = 8) -> tuple[Path, set[str]]:
    """A split dataset (train/valid/test .inter) with a texts file per side."""
    folder = root / NAME
    folder.mkdir(parents=True)
    head = "user_id:token\titem_id:token\trating:float\n"
    rows: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for u in range(n_users):
        for k in range(4):
            part = "train" if k < 2 else ("valid" if k == 2 else "test")
            rows[part].append(f"u{u}\ti{(u + k) % n_items}\t{1 + k}\n")
    for part, lines in rows.items():
        (folder / f"{NAME}.{part}.inter").write_text(head + "".join(lines), encoding="utf-8")
    texts = write_texts(folder, NAME, [f"u{u}" for u in range(n_users)], [f"i{i}" for i in range(n_items)])
    return folder, texts


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, set[str]]:
    return write_shop(tmp_path / "data")


def good(kind: str, body: dict, attempt: int) -> Reply:
    return Reply(200, embedding_response(body["input"], dim=DIM, model=body["model"]))


class StubEmbedder:
    """Deterministic vectors without a model; records every batch it is given."""

    def __init__(self, name: str = "stub", dim: int = 8) -> None:
        self.name, self.dim, self.batches = name, dim, []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.asarray([text_vector(t, self.dim) for t in texts], dtype=np.float32)


def feature_rows(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    table = read_atomic(path)
    assert list(table.header) == feature_header(path.suffix[1:])
    rows = {}
    for values in table.frame.itertuples(index=False):
        assert values[0] == values[1]
        rows[values[0]] = (parse_float_seq(values[2]), parse_float_seq(values[3]))
    return rows


def texts_of(folder: Path, side: str) -> dict[str, TextRecord]:
    return {r.id: r for r in read_texts_strict(folder / f"{NAME}.{side}.texts.jsonl")}


# --------------------------------------------------------------- the server
def test_troubled_server_run_completes_caches_everything_and_never_leaks_the_key(
    shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    folder, texts = shop
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    order: dict[str, int] = {}
    lock = threading.Lock()

    def troubled(kind: str, body: dict, attempt: int) -> Reply:
        with lock:
            ordinal = order.setdefault(json.dumps(body["input"]), len(order))
        if attempt == 0 and ordinal == 0:
            return Reply.error(500)
        if attempt == 0 and ordinal == 1:
            return Reply.error(429, "slow down", **{"Retry-After": "0"})
        if attempt == 0 and ordinal == 2:
            return Reply(200, embedding_response(body["input"], dim=DIM), delay=1.5)  # client gives up at 0.8 s
        return good(kind, body, attempt)

    with FakeOpenAI(troubled) as server:
        code = main(["embed", str(folder), "--embedder", "openai:fake-embed", "--base-url", server.base_url,
                     "--batch-size", "5", "--max-retries", "2", "--timeout", "0.8"])
        log = list(server.log)
    out, err = capsys.readouterr()
    assert code == 0, err
    statuses = [e.status for e in log]
    assert statuses.count(500) == 1 and statuses.count(429) == 1
    # One good answer per batch, plus (once its delay is over) the one the client gave up on.
    assert len(order) <= statuses.count(200) <= len(order) + 1
    assert all(e.authorization == f"Bearer {SECRET}" for e in log)  # the key was used ...
    assert len(texts) == 6 * 2 + 8 + 3 and f"{len(texts)} unique texts" in out  # identical intents sent once

    # Files: one row per id, the id twice, 16-d vectors of the right texts.
    for side, suffix, count in (("user", "useremb", 6), ("item", "itememb", 8)):
        rows = feature_rows(folder / f"{NAME}.{suffix}")
        records = texts_of(folder, side)
        assert sorted(rows) == sorted(records) and len(rows) == count
        for raw_id, (profile, intent) in rows.items():
            assert profile.shape == intent.shape == (DIM,)
            assert np.allclose(profile, text_vector(records[raw_id].profile, DIM), atol=1e-6)
            assert np.allclose(intent, text_vector(records[raw_id].intent, DIM), atol=1e-6)

    # Every vector is cached ...
    cache_path = folder / f"{NAME}.embcache.jsonl"
    assert VectorCache(cache_path).missing("openai:fake-embed", sorted(texts)) == []

    # ... and the key appears in no file, no log line and no output.
    for path in folder.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path
    assert SECRET not in caplog.text and SECRET not in out and SECRET not in err


def test_rerun_of_an_unchanged_folder_sends_nothing(shop, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, texts = shop
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    args = ["embed", str(folder), "--embedder", "openai:fake-embed", "--batch-size", "4", "--max-retries", "0"]
    with FakeOpenAI(good) as server:
        assert main(args + ["--base-url", server.base_url]) == 0
        assert server.count() == -(-len(texts) // 4)
    first = {p: (folder / p).read_bytes() for p in (f"{NAME}.useremb", f"{NAME}.itememb")}
    with FakeOpenAI(good) as server:
        assert main(args + ["--base-url", server.base_url]) == 0
        assert server.count() == 0
    assert {p: (folder / p).read_bytes() for p in first} == first


def test_killed_run_resumes_without_asking_for_any_cached_text(shop, tmp_path: Path) -> None:
    folder, texts = shop
    batch, served_batches = 3, 3
    served: Counter[str] = Counter()
    lock = threading.Lock()
    healed = threading.Event()

    def script(kind: str, body: dict, attempt: int) -> Reply:
        with lock:
            if not healed.is_set() and sum(served.values()) >= batch * served_batches:
                return Reply.error(503, delay=3.0)  # hold the run until the test kills it
            served.update(body["input"])
        return good(kind, body, attempt)

    cache_path = folder / f"{NAME}.embcache.jsonl"

    def cached() -> int:
        return len(cache_path.read_text().splitlines()) if cache_path.exists() else 0

    command = [sys.executable, "-m", "dataset_prep", "embed", str(folder), "--embedder", "openai:fake-embed",
               "--batch-size", str(batch), "--max-retries", "0", "--timeout", "10"]
    with FakeOpenAI(script) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET,
               "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cached() < batch * served_batches:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert cached() == batch * served_batches  # killed half-way, vectors on disk ...
        assert not (folder / f"{NAME}.useremb").exists()  # ... and no feature file yet

        healed.set()
        resumed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({batch * served_batches} cached, {len(texts) - batch * served_batches} embedded)" in resumed.stdout
    # Each unique text was embedded exactly once over both runs.
    assert set(served) == texts and set(served.values()) == {1}
    assert len(feature_rows(folder / f"{NAME}.useremb")) == 6


# ------------------------------------------------------------------- input
def test_missing_ids_name_the_texts_file_and_the_ids(shop, capsys: pytest.CaptureFixture) -> None:
    folder, _ = shop
    path = folder / f"{NAME}.user.texts.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[4:]))  # drop u1, u2, u3
    stub = StubEmbedder()
    with pytest.raises(EmbedInputError) as err:
        embed_folder(folder, NAME, stub, progress=False)
    message = str(err.value)
    assert str(path) in message and "no text for 3 user(s) of the interactions: 'u1', 'u2', 'u3'" in message
    assert stub.batches == []  # checked before anything was embedded
    assert main(["embed", str(folder), "--no-cache"]) == 2  # the default MiniLM is never loaded
    assert "u1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"id": "i0", "profile": "p", "intent": "in', ":9: not a JSON object"),
        ('{"id": "i9", "profile": "p", "intent": "  "}', ":9: empty or missing intent text for id 'i9'"),
        ('{"id": "i3", "profile": "p", "intent": "x"}', ":9: duplicate id 'i3' (first on line 4)"),
        ('["i9"]', ":9: expected an object"),
    ],
)
def test_malformed_texts_name_file_and_line(shop, bad_line: str, message: str) -> None:
    folder, _ = shop
    path = folder / f"{NAME}.item.texts.jsonl"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(bad_line + "\n")
    with pytest.raises(EmbedInputError, match="item.texts.jsonl" + message.replace("(", r"\(").replace(")", r"\)")):
        embed_folder(folder, NAME, StubEmbedder(), progress=False)


def test_dedupe_extra_ids_and_no_cache(shop, caplog: pytest.LogCaptureFixture) -> None:
    folder, texts = shop
    write_texts(folder, NAME, [f"u{u}" for u in range(6)] + ["ghost"], [f"i{i}" for i in range(8)])
    stub = StubEmbedder()
    caplog.set_level(logging.INFO)
    report = embed_folder(folder, NAME, stub, batch_size=7, use_cache=False, progress=False)
    sent = [t for b in stub.batches for t in b]
    assert len(sent) == len(set(sent)) and set(sent) == texts  # each text once; the ghost's are not paid for
    assert max(len(b) for b in stub.batches) == 7
    # An id without interactions would make RecBole refuse the file: left out, and said so.
    assert "ghost" not in feature_rows(folder / f"{NAME}.useremb") and report.dropped == {"user": 1}
    assert "leaving out 1 user(s) without interactions" in caplog.text
    assert not (folder / f"{NAME}.embcache.jsonl").exists()


# ------------------------------------------------------- recbole round trip
def test_profile_and_intent_embedders_of_different_sizes_load_into_recbole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recbole_irllrec.config import Config
    from recbole_irllrec.data.text_features import load_text_matrices
    from recbole_irllrec.quick_start import create_dataset

    root = tmp_path / "data"
    folder = write_tiny_dataset(root)
    users = [line.split("\t")[0] for line in (folder / f"{TINY}.useremb").read_text().splitlines()[1:]]
    items = [line.split("\t")[0] for line in (folder / f"{TINY}.itememb").read_text().splitlines()[1:]]
    for suffix in ("useremb", "itememb"):
        (folder / f"{TINY}.{suffix}").unlink()
    write_texts(folder, TINY, users, items)
    dims = {"small-embed": 8, "large-embed": 12}
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def script(kind: str, body: dict, attempt: int) -> Reply:
        return Reply(200, embedding_response(body["input"], dim=dims[body["model"]], model=body["model"]))

    with FakeOpenAI(script) as server:
        assert main(["embed", str(folder), "--embedder", "openai:small-embed", "--intent-embedder",
                     "openai:large-embed", "--base-url", server.base_url, "--max-retries", "0"]) == 0

    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(root, tmp_path))
    dataset = create_dataset(config)  # validates every row (ids, sizes, finiteness)
    matrices = load_text_matrices(config, dataset)
    assert matrices["user_profile"].shape == (dataset.user_num, 8)
    assert matrices["item_intent"].shape == (dataset.item_num, 12)
    internal = dataset.token2id(dataset.iid_field, items[0])
    expected = text_vector(read_texts_strict(folder / f"{TINY}.item.texts.jsonl")[0].intent, 12)
    assert np.allclose(matrices["item_intent"][internal].numpy(), expected, atol=1e-6)


# ------------------------------------------------------------ the embedder
def test_openai_embedder_checks_count_order_and_size_and_stops_on_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    def reversed_order(body: dict) -> dict:
        response = embedding_response(body["input"], dim=DIM)
        return {**response, "data": response["data"][::-1]}

    answers = iter([
        lambda b: embedding_response(b["input"][:-1], dim=DIM),  # one vector short
        reversed_order,
        lambda b: embedding_response(b["input"], dim=DIM + 1),  # size changed mid-run
    ])

    def script(kind: str, body: dict, attempt: int) -> Reply:
        if body["input"] == ["denied"]:
            return Reply.error(401, "bad key")
        return Reply(200, next(answers)(body))

    bodies: list[dict] = []

    def logged(kind: str, body: dict, attempt: int) -> Reply:
        bodies.append(body)
        return script(kind, body, attempt)

    with FakeOpenAI(logged) as server:
        embedder = OpenAIEmbedder("fake-embed", base_url=server.base_url, max_retries=0, timeout=5, dimensions=DIM)
        assert embedder.name == f"openai:fake-embed:{DIM}d"  # truncated vectors are cached apart
        with pytest.raises(EmbeddingResponseError, match="has 1 vectors for 2 inputs"):
            embedder(["a", "b"])
        reversed_ok = embedder(["a", "b"])  # out of order: the index field puts it right
        assert np.allclose(reversed_ok[0], text_vector("a", DIM), atol=1e-6)
        with pytest.raises(EmbeddingResponseError, match=f"has {DIM + 1}-d vectors, expected {DIM}"):
            embedder(["c"])
        with pytest.raises(FatalBackendError, match="AuthenticationError"):
            embedder(["denied"])
    assert bodies[0]["dimensions"] == DIM and bodies[0]["encoding_format"] == "float"


def test_cli_exit_codes_for_a_down_server_and_a_bad_spec(shop, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    folder, _ = shop
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI(lambda kind, body, attempt: Reply.error(503, "overloaded")) as server:
        code = main(["embed", str(folder), "--embedder", "openai:m", "--base-url", server.base_url,
                     "--max-retries", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "InternalServerError" in err and "run the same command again" in err
    assert not (folder / f"{NAME}.useremb").exists()
    assert main(["embed", str(folder), "--embedder", "word2vec:x"]) == 2
    assert "unknown kind 'word2vec'" in capsys.readouterr().err


def test_default_minilm_end_to_end(shop) -> None:
    folder, texts = shop
    assert main(["embed", str(folder), "--device", "cpu"]) == 0
    rows = feature_rows(folder / f"{NAME}.itememb")
    profile, intent = rows["i0"]
    assert profile.shape == intent.shape == (384,)
    assert abs(float(np.linalg.norm(profile)) - 1.0) < 1e-3  # MiniLM's vectors are normalised


# ------------------------------------------------------------------- cache
def test_vector_cache_tolerates_a_torn_last_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "vectors.jsonl"
    cache = VectorCache(path)
    cache.add("m", ["a", "b"], np.ones((2, 4)))
    cache.add("other", ["a"], np.zeros((1, 3)))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"m": "m", "h": "ab')  # a write cut short by a kill
    with caplog.at_level(logging.WARNING):
        reopened = VectorCache(path, names=["m"])
    assert "cut off by an interrupted run" in caplog.text
    assert len(reopened) == 2 and reopened.missing("m", ["a", "b", "c"]) == ["c"]
    assert path.read_text().endswith("}\n")  # torn tail removed before new appends
    reopened.add("m", ["c"], np.full((1, 4), 2.0))
    again = VectorCache(path)
    assert again.skipped_lines == 0 and len(again) == 4
    assert np.array_equal(again.get("m", "c"), np.full(4, 2.0, dtype=np.float32))
    assert again.get("other", "a").shape == (3,)


def test_a_folder_managed_by_dataset_prep_is_refused(shop: tuple[Path, set[str]]) -> None:
    folder, _ = shop
    (folder / "manifest.json").write_text("{}")  # as left by `python -m dataset_prep ml-100k`
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(EmbedInputError, match="managed by dataset_prep"):
        embed_folder(folder)
    assert sorted(p.name for p in folder.iterdir()) == before


# ------------------------------------------------------- texts kept apart from the data (issue 15)
def test_texts_from_another_folder_embed_into_the_dataset_folder(shop, tmp_path: Path) -> None:
    folder, _ = shop
    texts_dir = tmp_path / "llm-texts"  # what `intents --out-dir llm-texts` writes
    texts_dir.mkdir()
    for side in ("user", "item"):
        (folder / f"{NAME}.{side}.texts.jsonl").rename(texts_dir / f"{NAME}.{side}.texts.jsonl")
    report = embed_folder(folder, NAME, StubEmbedder(), texts_dir=texts_dir, progress=False)
    assert report.outputs == [folder / f"{NAME}.useremb", folder / f"{NAME}.itememb"]
    assert set(feature_rows(folder / f"{NAME}.useremb")) == {f"u{u}" for u in range(6)}
    # the cache stays with the texts, out of the dataset folder
    assert (texts_dir / f"{NAME}.embcache.jsonl").is_file() and not (folder / f"{NAME}.embcache.jsonl").exists()


def test_cli_takes_the_texts_folder_and_names_the_dataset_after_the_data(shop, tmp_path: Path, monkeypatch) -> None:
    folder, _ = shop
    texts_dir = tmp_path / "llm-texts"
    texts_dir.mkdir()
    for side in ("user", "item"):
        (folder / f"{NAME}.{side}.texts.jsonl").rename(texts_dir / f"{NAME}.{side}.texts.jsonl")
    monkeypatch.setattr("dataset_prep.embed_folder.make_embedder", lambda spec, **kw: StubEmbedder())
    assert main(["embed", str(folder), "--texts-dir", str(texts_dir)]) == 0
    assert (folder / f"{NAME}.itememb").is_file()


def test_a_folder_made_by_convert_rlmrec_takes_vectors(shop) -> None:
    folder, _ = shop
    # convert-rlmrec rebuilds only when run again, and keeps the files it did not write
    (folder / "manifest.json").write_text(json.dumps({"params": {"converter": "rlmrec/1"}}))
    embed_folder(folder, NAME, StubEmbedder(), progress=False)
    assert (folder / f"{NAME}.useremb").is_file()
