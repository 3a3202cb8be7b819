"""Structured outputs and the served model in the cache key, against the scripted server.

The real server (llama.cpp) is in tests/test_real_server.py (``pytest -m server``);
these tests pin the protocol each form sends and the step-down ladder
json_schema -> json_object+schema -> json_object -> text.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dataset_prep.intents import IntentOptions, generate_texts, summary_lines
from dataset_prep.llm.prompts import AnswerFormatError, PromptFileError, answer_schema, load_prompt, parse_answer, parse_prompt
from fake_openai import FakeOpenAI, Reply, chat_completion
from test_intents import NAME, TASK_COUNT, good_content, ok_records, openai_backend, request_info, write_shop


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "data")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "EMPTY")


def form_of(body: dict) -> str:
    """The ladder name of a request's response_format."""
    fmt = body.get("response_format")
    if fmt is None:
        return "text"
    if fmt["type"] == "json_object":
        return "json_object+schema" if "schema" in fmt else "json_object"
    return fmt["type"]


def rejecting(*rejected: str, status: int = 400):
    """A server that refuses the given forms the way real ones do, and answers the rest well."""
    seen: list[str] = []

    def script(kind: str, body: dict, attempt: int) -> Reply:
        form = form_of(body)
        seen.append(form)
        if form in rejected:
            return Reply.error(status, f"response_format {form} is not supported")
        task, entity, _ = request_info(body)
        return Reply(200, chat_completion(good_content(task, entity)))

    return script, seen


def test_the_schema_is_built_from_the_prompt_files_keys_in_their_order() -> None:
    prompt = load_prompt("user_intent")
    assert prompt.list_keys == ("key_attributes",)
    schema = answer_schema(prompt.output_keys, prompt.list_keys)
    assert list(schema["properties"]) == ["key_attributes", "positive_preferences", "negative_preferences", "intent"]
    assert schema["required"] == list(prompt.output_keys) and schema["additionalProperties"] is False
    assert schema["properties"]["key_attributes"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["intent"] == {"type": "string"}
    bounded = answer_schema(prompt.output_keys, prompt.list_keys, bounded=True)
    assert bounded["properties"]["intent"]["minLength"] == 1 and bounded["properties"]["key_attributes"]["maxItems"]


def test_blank_list_items_are_not_answers_and_raw_tabs_are_kept() -> None:
    keys = ("key_attributes", "intent")
    for lazy in ('{"key_attributes": [" "], "intent": "Likes x"}', '{"key_attributes": ["a"], "intent": "  "}'):
        with pytest.raises(AnswerFormatError):
            parse_answer(lazy, keys)
    # grammar-constrained llama.cpp may put a raw tab or newline inside a string
    assert parse_answer('{"key_attributes": ["a\tb"], "intent": "Likes\nx"}', keys)["intent"] == "Likes\nx"


def test_list_keys_outside_output_keys_name_the_file() -> None:
    text = "system: s\nuser: '{input_json}'\noutput_keys: [intent]\ntext_key: intent\nlist_keys: [tags]\n"
    with pytest.raises(PromptFileError, match=r"mine\.yaml: list_keys \['tags'\]"):
        parse_prompt(text, "mine.yaml", "item_intent")


def test_a_server_that_takes_json_schema_gets_it_strict_for_every_request(shop: Path) -> None:
    bodies: list[dict] = []

    def script(kind: str, body: dict, attempt: int) -> Reply:
        bodies.append(body)
        task, entity, _ = request_info(body)
        return Reply(200, chat_completion(good_content(task, entity)))

    with FakeOpenAI(script) as server:
        report = generate_texts(shop, NAME, openai_backend(server), IntentOptions(concurrency=2), progress=False)
    assert report.failed == 0 and len(bodies) == TASK_COUNT
    fmt = bodies[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["summarization", "reasoning"]
    assert {form_of(b) for b in bodies} == {"json_schema"}
    assert {t.task: t.response_formats for t in report.tasks}["user_intent"] == {"json_schema": 6}
    assert all(r["response_format"] == "json_schema" and r["answered_by"] == "fake-model"
               for r in ok_records(shop / f"{NAME}.llmcache.jsonl"))


@pytest.mark.parametrize("status", [400, 422, 500])
def test_each_rejected_form_steps_down_once_for_the_whole_run(
    shop: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    script, seen = rejecting("json_schema", "json_object+schema", "json_object", status=status)
    with FakeOpenAI(script) as server, caplog.at_level(logging.WARNING):
        backend = openai_backend(server, max_concurrency=1)
        report = generate_texts(shop, NAME, backend, IntentOptions(concurrency=1), progress=False)
    assert report.failed == 0 and backend.response_format == "text"
    # one rejection per form, without the client's retries (llama-cpp-python rejects with a 500)
    assert seen[:4] == ["json_schema", "json_object+schema", "json_object", "text"]
    assert seen.count("text") == TASK_COUNT and len(seen) == TASK_COUNT + 3
    steps = [r.getMessage() for r in caplog.records if "rejects response_format" in r.getMessage()]
    assert len(steps) == 3 and "sending text from now on" in steps[-1]


def test_llama_cpp_python_gets_its_own_schema_form(shop: Path) -> None:
    script, seen = rejecting("json_schema", status=500)
    with FakeOpenAI(script) as server:
        report = generate_texts(shop, NAME, openai_backend(server, max_concurrency=1),
                                IntentOptions(concurrency=1), progress=False)
    assert report.failed == 0 and set(seen[1:]) == {"json_object+schema"}
    assert "answers constrained by: json_object+schema" in "\n".join(summary_lines(report))


def test_an_error_that_is_not_about_the_format_does_not_step_down(shop: Path) -> None:
    seen: list[str] = []

    def script(kind: str, body: dict, attempt: int) -> Reply:
        seen.append(form_of(body))
        task, entity, _ = request_info(body)
        if entity == "i0" and task == "item_profile":
            return Reply.error(400, "context length exceeded")
        return Reply(200, chat_completion(good_content(task, entity)))

    with FakeOpenAI(script) as server:
        backend = openai_backend(server, max_concurrency=1)
        report = generate_texts(shop, NAME, backend, IntentOptions(concurrency=1), progress=False)
    assert list(report.tasks[0].failures) == ["i0"] and backend.response_format == "json_schema"
    assert set(seen) == {"json_schema"}


def test_response_format_text_sends_none_and_reasks_are_counted(shop: Path) -> None:
    def script(kind: str, body: dict, attempt: int) -> Reply:
        assert "response_format" not in body
        task, entity, _ = request_info(body)
        if len(body["messages"]) == 2 and task == "item_intent":
            return Reply(200, chat_completion("Sure, here it is: intent = fun"))  # prose first
        return Reply(200, chat_completion(good_content(task, entity)))

    with FakeOpenAI(script) as server:
        report = generate_texts(shop, NAME, openai_backend(server, response_format="text"),
                                IntentOptions(concurrency=2), progress=False)
    intent = report.tasks[1]
    assert intent.task == "item_intent" and intent.reasks == 8 and intent.parsed_first == 0 and intent.answered == 8
    assert report.tasks[0].parsed_first == 8
    lines = summary_lines(report)
    assert lines[0].split() == ["task", "requests", "cached", "new", "failed", "reasks", "parsed", "tokens",
                                "seconds", "req/s", "tok/s"]
    row = next(line for line in lines if line.startswith("item_intent")).split()
    assert row[1:7] == ["8", "0", "8", "0", "8", "0%"]
    total = next(line for line in lines if line.startswith("total")).split()
    assert total[1:6] == [str(TASK_COUNT), "0", str(TASK_COUNT), "0", "8"]
    assert float(total[9]) > 0  # requests per second


def test_a_different_model_behind_the_same_name_is_asked_again(shop: Path, tmp_path: Path) -> None:
    script, _ = rejecting()
    cache = tmp_path / "answers.jsonl"
    options = IntentOptions(concurrency=2, cache_path=str(cache))
    entry = {"id": "fake-model", "object": "model", "owned_by": "vllm", "root": "/models/qwen-7b"}
    with FakeOpenAI(script) as server:
        server.models = [{**entry, "created": 1}]
        generate_texts(shop, NAME, openai_backend(server), options, progress=False)
        assert server.count() == TASK_COUNT and server.models_requests == 1

        server.models = [{**entry, "created": 2}]  # vLLM's 'created' is the time of the call: not an identity
        again = generate_texts(shop, NAME, openai_backend(server), options, progress=False)
        assert sum(t.cached for t in again.tasks) == TASK_COUNT and server.count() == TASK_COUNT

        server.models = [{**entry, "root": "/models/llama-8b"}]  # new weights, same served name
        swapped = generate_texts(shop, NAME, openai_backend(server), options, progress=False)
    assert sum(t.cached for t in swapped.tasks) == 0 and server.count() == 2 * TASK_COUNT
    served = {json.dumps(r.get("answered_by")) for r in ok_records(cache)}
    assert served == {'"fake-model"'}


def test_a_server_without_a_model_list_still_runs_and_says_what_it_cannot_check(
    shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script, _ = rejecting()
    with FakeOpenAI(script) as server, caplog.at_level(logging.WARNING):
        server.models = None  # type: ignore[assignment]  # the fake then answers 404
        report = generate_texts(shop, NAME, openai_backend(server, max_retries=0), IntentOptions(), progress=False)
    assert report.failed == 0
    assert any("does not list its models" in r.getMessage() for r in caplog.records)


def test_a_server_that_is_not_there_stops_the_run_at_once_naming_it(shop: Path) -> None:
    from dataset_prep.llm.backend import FatalBackendError
    from dataset_prep.llm.openai_chat import OpenAIChatBackend

    with FakeOpenAI(rejecting()[0]) as server:
        url = server.base_url  # closed on leaving the block: nothing listens there any more
    backend = OpenAIChatBackend("m", base_url=url, max_retries=0, timeout=2)
    with pytest.raises(FatalBackendError, match=r"cannot reach the server at http://127\.0\.0\.1:\d+/v1"):
        generate_texts(shop, NAME, backend, IntentOptions(), progress=False)
