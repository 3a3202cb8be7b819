"""`python -m dataset_prep intents`: prompts, answer cache, backends, and a real HTTP server.

The server (tests/fake_openai.py) runs on 127.0.0.1 and is scripted per
request: good answers, 500s, 429s, timeouts, broken bodies and non-JSON
content. Tests count its requests to prove that good answers are never
paid for twice, including across a killed run.
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
from pathlib import Path

import pytest

from dataset_prep.__main__ import main
from dataset_prep.intents import IntentInputError, IntentOptions, generate_texts
from dataset_prep.llm.backend import ChatAnswer, ChatRequest, FatalBackendError
from dataset_prep.llm.cache import AnswerCache
from dataset_prep.llm.offline_chat import OfflineChatBackend
from dataset_prep.llm.openai_chat import OpenAIChatBackend
from dataset_prep.llm.prompts import AnswerFormatError, PromptFileError, load_prompt, parse_answer
from dataset_prep.llm.runner import run_requests
from dataset_prep.text_records import read_text_records
from fake_openai import FakeOpenAI, Reply, chat_completion

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-test-DO-NOT-LEAK-4242"
NAME = "shop"
USERS = [f"u{k}" for k in range(6)]
ITEMS = [f"i{k}" for k in range(8)]
TASK_COUNT = 2 * len(ITEMS) + 2 * len(USERS)


def write_shop(root: Path) -> Path:
    """6 users, 8 items, ratings with short reviews, item titles/categories, user ages."""
    folder = root / NAME
    folder.mkdir(parents=True)
    head = "user_id:token\titem_id:token\trating:float\treview:token_seq\ttimestamp:float\n"
    rows = {"train": [], "valid": [], "test": []}
    for u in range(6):
        for k in range(5):
            i = (u + k) % 8
            part = "train" if k < 3 else ("valid" if k == 3 else "test")
            rating = 5 if (u + k) % 3 else 1
            review = "great fun" if rating == 5 else "boring and slow"
            rows[part].append(f"u{u}\ti{i}\t{rating}\t{review}\t{1000 + u * 10 + k}\n")
    for part, lines in rows.items():
        (folder / f"{NAME}.{part}.inter").write_text(head + "".join(lines), encoding="utf-8")
    items = ["item_id:token\ttitle:token_seq\tcategories:token_seq\n"]
    items += [f"i{k}\tThing number {k}\t{'Games Toys' if k % 2 else 'Books'}\n" for k in range(8)]
    (folder / f"{NAME}.item").write_text("".join(items), encoding="utf-8")
    users = ["user_id:token\tage:float\n"] + [f"u{k}\t{20 + k}\n" for k in range(6)]
    (folder / f"{NAME}.user").write_text("".join(users), encoding="utf-8")
    return folder


def request_info(body: dict) -> tuple[str, str, dict]:
    """(task, entity id, payload) of a chat request built from the packaged prompts."""
    system = body["messages"][0]["content"]
    user = body["messages"][1]["content"]
    side = "item" if user.startswith("Item:") else "user"
    kind = "intent" if '"intent"' in system else "profile"
    payload = json.loads(user.split("\n", 1)[1])
    return f"{side}_{kind}", payload["id"], payload


def good_content(task: str, entity: str) -> str:
    if task.endswith("profile"):
        return json.dumps({"summarization": f"summary of {entity}", "reasoning": "because"})
    if task == "item_intent":
        answer = {"key_attributes": ["a"], "offers": "x", "lacks": "y",
                  "intent": f"Attracts users who like {entity}; unattractive to others."}
    else:
        answer = {"key_attributes": ["a"], "positive_preferences": "x", "negative_preferences": "y",
                  "intent": f"Likes {entity}; dislikes nothing."}
    return json.dumps(answer)


def always_good(kind: str, body: dict, attempt: int) -> Reply:
    task, entity, _ = request_info(body)
    return Reply(200, chat_completion(good_content(task, entity)))


def troubled(kind: str, body: dict, attempt: int) -> Reply:
    """Item intents of i1..i7 misbehave in scripted ways; everything else answers well."""
    task, entity, _ = request_info(body)
    if task == "item_intent":
        if entity == "i1" and attempt == 0:
            return Reply.error(500)
        if entity == "i2" and attempt == 0:
            return Reply.error(429, "slow down", **{"retry-after-ms": "20"})
        if entity == "i3" and attempt == 0:
            return Reply(200, chat_completion(good_content(task, entity)), delay=1.5)  # client gives up at 0.5 s
        if entity == "i4" and attempt == 0:
            return Reply(200, b'{"choices": [ not json')
        if entity == "i5" and len(body["messages"]) == 2:
            return Reply(200, chat_completion("Sure! The item is nice."))  # re-asked with a correction
        if entity == "i6":
            return Reply(200, chat_completion('{"intent": ""}'))  # never usable
        if entity == "i7":
            return Reply.error(500)  # always down
    return Reply(200, chat_completion(good_content(task, entity)))


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "data")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def openai_backend(server: FakeOpenAI, **kwargs) -> OpenAIChatBackend:
    options = {"max_retries": 2, "timeout": 0.5, "max_concurrency": 4} | kwargs
    return OpenAIChatBackend("fake-model", base_url=server.base_url, **options)


def ok_records(cache_path: Path) -> list[dict]:
    lines = [json.loads(line) for line in cache_path.read_text(encoding="utf-8").splitlines()]
    return [r for r in lines if r["status"] == "ok"]


# --------------------------------------------------------------- the server
def test_troubled_server_run_completes_caches_good_answers_and_retries_only_failures(
    shop: Path, secret_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    options = IntentOptions(concurrency=4)
    with FakeOpenAI(troubled) as server:
        report = generate_texts(shop, NAME, openai_backend(server), options, progress=False)
        first_log = list(server.log)

    # The run went through all four tasks; exactly the two hopeless items failed.
    assert [t.task for t in report.tasks] == ["item_profile", "item_intent", "user_profile", "user_intent"]
    assert sorted(report.tasks[1].failures) == ["i6", "i7"]
    assert report.failed == 2
    statuses = [e.status for e in first_log]
    assert statuses.count(429) == 1 and 500 in statuses
    assert all(e.authorization == f"Bearer {SECRET}" for e in first_log)  # the key was used ...

    # ... every good answer is cached, once ...
    cache_path = shop / f"{NAME}.llmcache.jsonl"
    good = ok_records(cache_path)
    assert len(good) == TASK_COUNT - 2
    assert len({(r["task"], r["id"]) for r in good}) == len(good)
    attempts = {r["id"]: r["attempts"] for r in good if r["task"] == "item_intent"}
    assert attempts["i4"] == 2 and attempts["i5"] == 2  # broken body and prose were both asked again
    assert attempts["i1"] == attempts["i2"] == attempts["i3"] == 1  # the client's own retries absorbed these
    items = {r.id: r for r in read_text_records(shop / f"{NAME}.item.texts.jsonl")}
    assert sorted(items) == sorted(set(ITEMS) - {"i6", "i7"})
    assert items["i3"].intent == "Attracts users who like i3; unattractive to others."
    failures = json.loads((shop / f"{NAME}.llm-failures.json").read_text())
    assert sorted(failures["item_intent"]) == ["i6", "i7"]

    # ... and the key appears in no file and no log line.
    for path in shop.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path
    assert SECRET not in caplog.text

    # A re-run against a healed server asks for the two failures and nothing else.
    with FakeOpenAI(always_good) as server:
        again = generate_texts(shop, NAME, openai_backend(server), options, progress=False)
    assert again.failed == 0
    assert server.count(status=200) == 2
    assert sum(t.cached for t in again.tasks) == TASK_COUNT - 2
    assert len(read_text_records(shop / f"{NAME}.item.texts.jsonl")) == len(ITEMS)
    assert not (shop / f"{NAME}.llm-failures.json").exists()


def test_killed_run_resumes_without_repeating_any_answered_request(shop: Path, tmp_path: Path) -> None:
    served_limit = 7
    served: dict[str, int] = {}
    lock = threading.Lock()
    healed = threading.Event()

    def script(kind: str, body: dict, attempt: int) -> Reply:
        task, entity, _ = request_info(body)
        with lock:
            if not healed.is_set() and sum(served.values()) >= served_limit:
                return Reply.error(503, delay=3.0)  # hold the run until the test kills it
            key = f"{task}:{entity}"
            served[key] = served.get(key, 0) + 1
        return Reply(200, chat_completion(good_content(task, entity)))

    cache_path = shop / f"{NAME}.llmcache.jsonl"
    command = [sys.executable, "-m", "dataset_prep", "intents", str(shop), "--backend", "openai",
               "--model", "fake-model", "--concurrency", "2", "--max-retries", "0", "--timeout", "10"]
    with FakeOpenAI(script) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET,
               "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if cache_path.exists() and len(ok_records(cache_path)) >= served_limit:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert len(ok_records(cache_path)) == served_limit  # killed half-way, answers on disk

        healed.set()
        resumed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr

    # Each (task, entity) was answered exactly once over both runs: nothing was paid for twice.
    assert len(served) == TASK_COUNT
    assert set(served.values()) == {1}
    assert len(ok_records(cache_path)) == TASK_COUNT
    assert len(read_text_records(shop / f"{NAME}.user.texts.jsonl")) == len(USERS)


def test_authentication_error_stops_the_run(shop: Path, secret_env: None) -> None:
    with FakeOpenAI(lambda kind, body, attempt: Reply.error(401, "bad key")) as server:
        with pytest.raises(FatalBackendError, match="AuthenticationError"):
            generate_texts(shop, NAME, openai_backend(server), IntentOptions(), progress=False)
        assert server.count() <= 4  # stopped at once, not once per entity (at most the in-flight ones)


def test_cli_reports_failures_and_a_bad_backend_cleanly(
    shop: Path, secret_env: None, capsys: pytest.CaptureFixture
) -> None:
    with FakeOpenAI(troubled) as server:
        code = main(["intents", str(shop), "--backend", "openai", "--model", "m", "--base-url", server.base_url,
                     "--max-retries", "1", "--timeout", "0.5", "--tasks", "item_intent"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED item_intent i6" in out and "FAILED item_intent i7" in out
    assert "run the same command again" in out

    assert main(["intents", str(shop), "--backend", "openai"]) == 2
    assert "--model is required" in capsys.readouterr().err


# ------------------------------------------------------------ offline backend
def test_offline_backend_writes_every_text_from_training_rows_only(shop: Path, tmp_path: Path) -> None:
    assert main(["intents", str(shop), "--backend", "offline"]) == 0
    users = read_text_records(shop / f"{NAME}.user.texts.jsonl")
    items = read_text_records(shop / f"{NAME}.item.texts.jsonl")
    assert [r.id for r in users] == USERS and [r.id for r in items] == ITEMS
    assert all(r.profile and r.intent for r in users + items)
    assert items[1].intent.startswith("Attracts users who look for Games and Toys")

    train_pairs = {tuple(line.split("\t")[:2]) for line in (shop / f"{NAME}.train.inter").read_text().splitlines()[1:]}
    for record in users:
        assert all((record.id, item) in train_pairs for item in record.evidence)

    # Rewriting every held-out rating and review changes nothing that was written.
    before = {p.name: p.read_bytes() for p in shop.glob("*.texts.jsonl")}
    for part in ("valid", "test"):
        path = shop / f"{NAME}.{part}.inter"
        lines = path.read_text().splitlines()
        flipped = [lines[0]] + ["\t".join(c[:2] + ["3", "totally different", c[4]]) for c in
                                (line.split("\t") for line in lines[1:])]
        path.write_text("\n".join(flipped) + "\n")
    (shop / f"{NAME}.llmcache.jsonl").unlink()
    assert main(["intents", str(shop), "--backend", "offline"]) == 0
    assert {p.name: p.read_bytes() for p in shop.glob("*.texts.jsonl")} == before


# real ml-100k rows (RecBole's ml-100k.item): titles with periods and a parenthesised alias
ML100K_ITEMS = {
    "393": "Mrs. Doubtfire\t1993\tComedy",
    "302": "L.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller",
    "474": "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb\t1963\tSci-Fi War",
    "105": "Sgt. Bilko\t1996\tComedy",
    "306": "Mrs. Brown (Her Majesty, Mrs. Brown)\t1997\tDrama Romance",
}


def test_offline_backend_quotes_whole_titles_with_periods(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"]
    (folder / "ml.item").write_text("".join(items + [f"{i}\t{row}\n" for i, row in ML100K_ITEMS.items()]))
    head = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    train = ["1\t393\t5\t1\n", "1\t302\t4\t2\n", "1\t474\t1\t3\n", "1\t105\t2\t4\n", "2\t306\t5\t5\n"]
    (folder / "ml.train.inter").write_text(head + "".join(train))
    for part in ("valid", "test"):
        (folder / f"ml.{part}.inter").write_text(head + "2\t393\t3\t9\n")
    assert main(["intents", str(folder), "--backend", "offline"]) == 0
    users = {r.id: r for r in read_text_records(folder / "ml.user.texts.jsonl")}
    liked, disliked = users["1"].intent.split("; ")
    assert '"Mrs. Doubtfire"' in liked and '"L.A. Confidential"' in liked
    assert '"Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb"' in disliked
    assert '"Sgt. Bilko"' in disliked
    assert '"Mrs. Brown (Her Majesty, Mrs. Brown)"' in users["2"].intent
    assert "with 1 training interaction," in users["2"].profile  # one, not "1 ... interactions"

    # a user prompt names an item by its attributes when it has no summary
    answer = OfflineChatBackend().complete(ChatRequest("user_intent", "u", (), {"interactions": [
        {"item": "L.A. Confidential; 1997; Crime, Film-Noir", "rating": 5}]}))
    assert '"L.A. Confidential"' in json.loads(answer.text)["intent"]


def test_managed_folder_is_refused_and_out_dir_keeps_it_untouched(
    shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (shop / "manifest.json").write_text("{}")  # as left by `python -m dataset_prep ml-100k`
    before = sorted(p.name for p in shop.iterdir())
    assert main(["intents", str(shop), "--backend", "offline"]) == 2
    assert "--out-dir" in capsys.readouterr().err
    out = tmp_path / "llm-texts"
    assert main(["intents", str(shop), "--backend", "offline", "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in shop.iterdir()) == before
    assert {p.name for p in out.iterdir()} == {
        f"{NAME}.item.texts.jsonl", f"{NAME}.user.texts.jsonl", f"{NAME}.llmcache.jsonl"
    }


def test_dry_run_prints_prompts_and_an_estimate_and_sends_nothing(
    shop: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a dry run needs no key
    assert main(["intents", str(shop), "--backend", "openai", "--model", "m", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "=== item_intent: 8 requests" in out and "=== user_intent: 6 requests" in out
    assert "Attracts users who ...; unattractive to users who ..." in out
    assert "=== total: 28 requests" in out
    assert not (shop / f"{NAME}.llmcache.jsonl").exists()


def test_missing_training_split_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "plain.inter").write_text("user_id:token\titem_id:token\nu\ti\n")
    with pytest.raises(IntentInputError, match=r"plain\.train\.inter not found.*only use training"):
        generate_texts(folder, "plain", OfflineChatBackend(), IntentOptions(), progress=False)
    assert main(["intents", str(folder)]) == 2
    assert "plain.train.inter not found" in capsys.readouterr().err


# ------------------------------------------------------------------ prompts
def test_prompt_override_and_malformed_prompt_files(shop: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    packaged = load_prompt("item_intent")
    (prompts / "item_intent.yaml").write_text(
        "task: item_intent\ntext_key: intent\noutput_keys: [intent]\nsystem: Be brief.\nuser: '{input_json}'\n"
    )
    custom = load_prompt("item_intent", prompts)
    assert custom.system == "Be brief." and custom.output_keys == ("intent",)
    assert load_prompt("user_intent", prompts).system == load_prompt("user_intent").system  # others packaged
    assert packaged.text_key == "intent"

    (prompts / "item_intent.yaml").write_text("task: item_intent\ntext_key: intent\noutput_keys: [intent]\nuser: x\n")
    with pytest.raises(PromptFileError, match=r"item_intent\.yaml: missing key 'system'"):
        load_prompt("item_intent", prompts)
    (prompts / "item_intent.yaml").write_text(
        "text_key: intent\noutput_keys: [intent]\nsystem: s\nuser: no placeholder\n"
    )
    with pytest.raises(PromptFileError, match="must contain {input_json}"):
        load_prompt("item_intent", prompts)


def test_parse_answer_accepts_fences_and_prose_and_rejects_the_rest() -> None:
    keys = ("summarization", "reasoning")
    fenced = '```json\n{"summarization": "s", "reasoning": "r"}\n```'
    assert parse_answer(fenced, keys) == {"summarization": "s", "reasoning": "r"}
    chatty = 'Here you go: {"summarization": "s", "reasoning": "r", "extra": 1} Hope it helps!'
    assert parse_answer(chatty, keys) == {"summarization": "s", "reasoning": "r"}
    for bad, message in (
        ("no json here", "no JSON object"),
        ('{"summarization": "s"', "invalid JSON"),
        ('{"summarization": "s", "reasoning": "  "}', "lacks reasoning"),
        ("[1, 2]", "no JSON object"),
    ):
        with pytest.raises(AnswerFormatError, match=message):
            parse_answer(bad, keys)


# -------------------------------------------------------------------- cache
class CountingBackend:
    name, model, max_concurrency = "counting", "v1", 2

    def __init__(self) -> None:
        self.calls = 0

    def settings(self) -> dict:
        return {}

    def complete(self, request: ChatRequest) -> ChatAnswer:
        self.calls += 1
        return ChatAnswer(json.dumps({"summarization": request.entity_id, "reasoning": "r"}), 3, 4)


def test_cache_survives_a_torn_last_line_and_serves_good_answers(tmp_path: Path, caplog) -> None:
    prompt = load_prompt("item_profile")
    requests = [prompt.request(f"i{k}", {"id": f"i{k}"}) for k in range(5)]
    path = tmp_path / "answers.jsonl"
    backend = CountingBackend()
    answers, report = run_requests(backend, AnswerCache(path), requests, progress=False)
    assert backend.calls == 5 and report.prompt_tokens == 15 and report.completion_tokens == 20
    assert answers["i3"]["summarization"] == "i3"

    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"key": "abc", "status": "o')  # a write cut short by a kill
    with caplog.at_level(logging.WARNING):
        cache = AnswerCache(path)
    assert "cut off" in caplog.text and len(cache) == 5
    assert path.read_text(encoding="utf-8").endswith("\n")  # torn tail removed before new appends

    again, report = run_requests(backend, cache, requests, progress=False)
    assert backend.calls == 5 and report.cached == 5 and again == answers


def test_broken_objects_still_yield_complete_string_keys_and_small_prompts_prefill() -> None:
    # What small local models write: a good value, then a stray key or a cut-off object.
    assert parse_answer('{"intent": "Attracts users who x; unattractive to y", "extra": oops', ("intent",)) == {
        "intent": "Attracts users who x; unattractive to y"
    }
    with pytest.raises(AnswerFormatError, match="invalid JSON"):
        parse_answer('{"intent": "Attracts users who never finish', ("intent",))

    small = load_prompt("item_intent", prompt_set="small")
    assert small.output_keys == ("intent",) and small.prefill == '{"intent": "Attracts users who'
    assert small.source == "dataset_prep/prompts/small/item_intent.yaml"
    request = small.request("i1", {"id": "i1"})
    assert request.prefill and request.prompt_sha() != load_prompt("item_intent", prompt_set="small").request(
        "i2", {"id": "i2"}).prompt_sha()
    with pytest.raises(PromptFileError, match="unknown prompt set"):
        load_prompt("item_intent", prompt_set="tiny")
