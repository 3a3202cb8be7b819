"""Prompt files: loading, rendering to chat messages, and checking answers.

A prompt is a YAML file in ``dataset_prep/prompts/`` named after its task
(``item_intent.yaml``, ...). A folder passed as ``prompt_dir`` overrides
any of them by file name. The input goes in as JSON and the answer must
come back as one JSON object carrying ``output_keys``; ``text_key`` names
the field kept as the profile or intent text; the optional ``list_keys``
name the output keys whose value is a list of strings (every other key is
one string), which is what :func:`answer_schema` tells servers that accept a
JSON schema. An optional ``prefill`` is the start of the answer for
backends that can force it (hf).

Packaged sets: ``standard`` (the paper's chain of thought) and ``small``
(intent-only answers with a prefill, for models of a few hundred million
parameters, which cannot keep the longer JSON; tasks it lacks come from
``standard``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from .backend import ChatRequest

TASKS = ("item_profile", "item_intent", "user_profile", "user_intent")
PROMPT_SETS = ("standard", "small")
INPUT_MARK = "{input_json}"
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class PromptFileError(InputError):
    """A prompt file is missing a key or is malformed."""


class AnswerFormatError(ValueError):
    """An answer is not one JSON object with the required keys."""


@dataclass(frozen=True)
class Prompt:
    task: str
    system: str
    user: str
    output_keys: tuple[str, ...]
    text_key: str
    source: str  # file it came from, for error messages
    prefill: str = ""
    list_keys: tuple[str, ...] = ()

    def request(self, entity_id: str, payload: dict[str, Any]) -> ChatRequest:
        """Render the chat messages for one entity."""
        rendered = self.user.replace(INPUT_MARK, json.dumps(payload, ensure_ascii=False, sort_keys=True))
        messages = ({"role": "system", "content": self.system.strip()}, {"role": "user", "content": rendered.strip()})
        return ChatRequest(self.task, entity_id, messages, payload, self.output_keys, self.prefill, self.list_keys)


def load_prompt(task: str, prompt_dir: str | Path | None = None, prompt_set: str = "standard") -> Prompt:
    """The prompt for ``task``: ``prompt_dir/<task>.yaml`` if present, else the packaged set's, else standard's."""
    if task not in TASKS:
        raise PromptFileError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if prompt_set not in PROMPT_SETS:
        raise PromptFileError(f"unknown prompt set {prompt_set!r}; expected one of {', '.join(PROMPT_SETS)}")
    name = f"{task}.yaml"
    override = Path(prompt_dir) / name if prompt_dir is not None else None
    if override is not None and override.is_file():
        return parse_prompt(override.read_text(encoding="utf-8"), str(override), task)
    folder = resources.files("dataset_prep") / "prompts"
    packaged = folder / prompt_set / name if prompt_set != "standard" else folder / name
    if not packaged.is_file():
        packaged = folder / name
    source = "dataset_prep/prompts/" + (f"{prompt_set}/{name}" if packaged != folder / name else name)
    return parse_prompt(packaged.read_text(encoding="utf-8"), source, task)


def parse_prompt(text: str, source: str, task: str) -> Prompt:
    """Validate a prompt file's content; errors name the file and the key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptFileError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise PromptFileError(f"{source}: expected a mapping with system, user, output_keys, text_key")
    for key in ("system", "user", "output_keys", "text_key"):
        if key not in data:
            raise PromptFileError(f"{source}: missing key {key!r}")
    if data.get("task", task) != task:
        raise PromptFileError(f"{source}: says task {data['task']!r}, expected {task!r}")
    keys = tuple(str(k) for k in data["output_keys"] or ())
    if data["text_key"] not in keys:
        raise PromptFileError(f"{source}: text_key {data['text_key']!r} is not among output_keys {list(keys)}")
    if INPUT_MARK not in str(data["user"]):
        raise PromptFileError(f"{source}: the user message must contain {INPUT_MARK} where the input goes")
    prefill = str(data.get("prefill") or "")
    list_keys = data.get("list_keys") or []
    if not isinstance(list_keys, list) or not set(map(str, list_keys)) <= set(keys):
        raise PromptFileError(f"{source}: list_keys {list_keys!r} must be a list of output_keys {list(keys)}")
    return Prompt(task, str(data["system"]), str(data["user"]), keys, str(data["text_key"]), source, prefill,
                  tuple(str(k) for k in list_keys))


# Bounds of a grammar-constrained answer (see answer_schema): the prompts ask for 3-5 short
# attributes and one sentence per key; a small model left unbounded fills max_tokens with one list.
MAX_LIST_ITEMS = 5
MAX_ITEM_CHARS = 60
MAX_VALUE_CHARS = 300


def answer_schema(output_keys: tuple[str, ...], list_keys: tuple[str, ...] = (), bounded: bool = False) -> dict[str, Any]:
    """The JSON schema of an answer: an object with exactly ``output_keys``, in order.

    Unbounded, it keeps to the subset every structured-output server accepts
    (OpenAI's strict mode, vLLM, llama.cpp): types, ``required`` and
    ``additionalProperties: false``. ``bounded`` adds non-empty strings and
    length limits, which llama.cpp's grammar enforces token by token and which
    strict mode may refuse. Property order is the chain of thought's order,
    which grammar-constrained servers follow, so the intent comes last.
    """

    def string(limit: int) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": limit} if bounded else {"type": "string"}

    def value(key: str) -> dict[str, Any]:
        if key not in list_keys:
            return string(MAX_VALUE_CHARS)
        bounds = {"minItems": 1, "maxItems": MAX_LIST_ITEMS} if bounded else {}
        return {"type": "array", "items": string(MAX_ITEM_CHARS), **bounds}

    properties = {k: value(k) for k in output_keys}
    return {"type": "object", "properties": properties, "required": list(output_keys), "additionalProperties": False}


def parse_answer(text: str, output_keys: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object in ``text`` with every output key present and non-empty.

    Tolerates code fences and prose around the object (small local models
    add both). When the object itself is broken (cut off, a stray key), each
    required key that is a complete JSON string is still taken, so an answer
    is re-asked only when a key is really missing. Otherwise raises
    :class:`AnswerFormatError`.
    """
    stripped = _FENCE.sub("", text.strip())
    start = stripped.find("{")
    if start < 0:
        raise AnswerFormatError(f"no JSON object in answer: {one_line(text)}")
    try:
        # strict=False: a raw tab or newline inside a string (grammar-constrained llama.cpp writes them) is kept
        obj, _ = json.JSONDecoder(strict=False).raw_decode(stripped[start:])
        problem = "answer is JSON but not an object" if not isinstance(obj, dict) else ""
    except json.JSONDecodeError as exc:
        obj, problem = {}, f"invalid JSON ({exc.msg})"
    if not isinstance(obj, dict):
        obj = {}
    missing = [k for k in output_keys if _is_empty(obj.get(k))]
    for key in missing:
        value = _string_value(stripped, key)
        if value is not None:
            obj[key] = value
    missing = [k for k in output_keys if _is_empty(obj.get(k))]
    if missing:
        raise AnswerFormatError(f"{problem or 'answer lacks ' + ', '.join(missing)} in answer: {one_line(text)}")
    return {k: obj[k] for k in output_keys}


def _string_value(text: str, key: str) -> str | None:
    """The value of ``"key": "..."`` in possibly broken JSON, if the string itself is complete."""
    match = re.search(rf'"{re.escape(key)}"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    if match is None:
        return None
    try:
        return json.loads(match.group(1), strict=False)
    except json.JSONDecodeError:
        return None


def answer_text(answer: dict[str, Any], key: str) -> str:
    """The kept text of a parsed answer, as one line (lists are joined)."""
    value = answer[key]
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return " ".join(str(value).split())


def reask_messages(request: ChatRequest, bad_answer: str, problem: str) -> tuple[dict[str, str], ...]:
    """The original conversation plus the bad answer and a correction request."""
    keys = ", ".join(f'"{k}"' for k in request.output_keys)
    correction = (
        f"That reply could not be used ({problem}). Reply again with only one JSON object "
        f"with the keys {keys}, each non-empty."
    )
    return request.messages + (
        {"role": "assistant", "content": bad_answer},
        {"role": "user", "content": correction},
    )


def _is_empty(value: Any) -> bool:
    # Only blanks count: a small model's "..." in a chain-of-thought key still comes with a usable
    # intent (rejecting it took SmolLM2's parsed share on llama.cpp from 95% to 64%).
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return all(_is_empty(v) for v in value)
    if isinstance(value, dict):
        return not value
    return False


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (whitespace runs collapsed), cut at ``limit`` characters, for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
