"""Prompt files: loading, rendering to chat messages, and checking answers.

A prompt is a YAML file in ``dataset_prep/prompts/`` named after its task
(``item_intent.yaml``, ...). A folder passed as ``prompt_dir`` overrides
any of them by file name. The input goes in as JSON and the answer must
come back as one JSON object carrying ``output_keys``; ``text_key`` names
the field kept as the profile or intent text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .backend import ChatRequest

TASKS = ("item_profile", "item_intent", "user_profile", "user_intent")
INPUT_MARK = "{input_json}"
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class PromptFileError(ValueError):
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

    def request(self, entity_id: str, payload: dict[str, Any]) -> ChatRequest:
        """Render the chat messages for one entity."""
        rendered = self.user.replace(INPUT_MARK, json.dumps(payload, ensure_ascii=False, sort_keys=True))
        messages = ({"role": "system", "content": self.system.strip()}, {"role": "user", "content": rendered.strip()})
        return ChatRequest(self.task, entity_id, messages, payload, self.output_keys)


def load_prompt(task: str, prompt_dir: str | Path | None = None) -> Prompt:
    """The prompt for ``task``: from ``prompt_dir`` if it has ``<task>.yaml``, else the packaged one."""
    if task not in TASKS:
        raise PromptFileError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    name = f"{task}.yaml"
    override = Path(prompt_dir) / name if prompt_dir is not None else None
    if override is not None and override.is_file():
        source, text = str(override), override.read_text(encoding="utf-8")
    else:
        packaged = resources.files("dataset_prep") / "prompts" / name
        source, text = f"dataset_prep/prompts/{name}", packaged.read_text(encoding="utf-8")
    return parse_prompt(text, source, task)


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
    return Prompt(task, str(data["system"]), str(data["user"]), keys, str(data["text_key"]), source)


def parse_answer(text: str, output_keys: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object in ``text`` with every output key present and non-empty.

    Tolerates code fences and prose around the object (small local models
    add both); anything else raises :class:`AnswerFormatError`.
    """
    stripped = _FENCE.sub("", text.strip())
    start = stripped.find("{")
    if start < 0:
        raise AnswerFormatError(f"no JSON object in answer: {_clip(text)}")
    try:
        obj, _ = json.JSONDecoder().raw_decode(stripped[start:])
    except json.JSONDecodeError as exc:
        raise AnswerFormatError(f"invalid JSON ({exc.msg}) in answer: {_clip(text)}") from exc
    if not isinstance(obj, dict):
        raise AnswerFormatError(f"answer is JSON but not an object: {_clip(text)}")
    missing = [k for k in output_keys if _is_empty(obj.get(k))]
    if missing:
        raise AnswerFormatError(f"answer lacks {', '.join(missing)}: {_clip(text)}")
    return {k: obj[k] for k in output_keys}


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
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    return False


def _clip(text: str, limit: int = 200) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[:limit] + "..."
