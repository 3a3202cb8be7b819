"""Profile and intent texts for every user and item of a RecBole atomic dataset.

``generate_texts`` reads ``<folder>/<name>.*`` (the training interactions,
plus ``.item`` / ``.user`` attributes when present), asks a chat backend
for each task in order: item profiles, item intents, user profiles, user
intents (user prompts quote the item summaries), and writes
``<name>.item.texts.jsonl`` / ``<name>.user.texts.jsonl`` (see
:mod:`dataset_prep.text_records`), which ``python -m dataset_prep embed``
turns into vectors.

Only the training split enters a prompt: ``<name>.train.inter`` (or an
explicit ``train_file``). Validation and test files are read for their ids
only, so that every user and item RecBole will see gets a text.

An entity with nothing to write from (no training interaction and no
attribute in ``.item`` / ``.user``) is not asked: its prompt would make the
model invent a text. It is counted as skipped and gets no text. An empty
training file (zero bytes or a header only) is therefore not an error but a
warning naming it: only entities with attributes are asked.

Every answer is cached by the thread that received it, so Ctrl-C or a fatal
error (unknown model, revoked key) loses nothing the server already sent;
both end with a line saying how many answers are cached.
"""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .errors import InputError, Interrupted
from .llm.backend import ChatBackend, ChatRequest, FatalBackendError
from .llm.cache import AnswerCache
from .llm.prompts import TASKS, Prompt, answer_text, load_prompt
from .llm.runner import TaskReport, run_requests
from .manifest import managed_folder_message
from .recbole_io import AtomicTable, field_name, read_atomic, sort_ids
from .text_records import TextRecord, sorted_by_id, write_text_records

logger = logging.getLogger(__name__)

SPLIT_FILES = ("train", "valid", "test")
TEXT_FIELD_WORDS = ("title", "name", "review", "text", "desc", "summary", "comment")
CHARS_PER_TOKEN = 4  # rough rule for English text; only used for --dry-run estimates


class IntentInputError(InputError):
    """The dataset folder cannot be turned into prompts (missing file or field)."""


@dataclass(frozen=True)
class IntentOptions:
    """What to ask and how; every field has a command-line flag of the same name."""

    tasks: tuple[str, ...] = TASKS
    user_field: str = "user_id"
    item_field: str = "item_id"
    rating_field: str = "rating"
    time_field: str = "timestamp"
    train_file: str | None = None
    max_user_items: int = 20
    max_item_reviews: int = 5
    max_field_chars: int = 300
    limit_items: int | None = None
    limit_users: int | None = None
    seed: int = 2020
    concurrency: int = 8
    max_reasks: int = 2
    prompt_dir: str | None = None
    prompt_set: str = "standard"
    cache_path: str | None = None
    out_dir: str | None = None  # where texts, failures and cache go (default: the dataset folder)


@dataclass
class SourceData:
    """Attributes by id and training interactions, as plain JSON-ready values."""

    item_attrs: dict[str, dict[str, Any]]
    user_attrs: dict[str, dict[str, Any]]
    train_by_user: dict[str, list[dict[str, Any]]]
    train_by_item: dict[str, list[dict[str, Any]]]
    user_ids: list[str]
    item_ids: list[str]


@dataclass
class IntentReport:
    """Per-task reports and the output files written."""

    tasks: list[TaskReport] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    failures_file: Path | None = None
    skipped: dict[str, list[str]] = field(default_factory=dict)  # side -> ids without evidence, not asked

    @property
    def failed(self) -> int:
        return sum(len(t.failures) for t in self.tasks)


# ----------------------------------------------------------------------- input
def _typed(cell: str, kind: str, limit: int, name: str = "") -> Any:
    """A cell as prompt input: numbers for floats, lists for tag sequences, clipped text otherwise; None to skip."""
    if cell == "" or kind.endswith("float_seq"):
        return None  # vectors mean nothing to an LLM
    if kind == "token_seq" and not _is_text_field(name) and len(cell) <= limit:
        return cell.split()  # e.g. genres/categories: one tag per token
    if kind == "float":
        value = float(cell)  # read_atomic checked it is a number
        if not math.isfinite(value):
            return None  # nan/inf: missing, and not valid JSON in a prompt
        return int(value) if value.is_integer() else value
    return cell if len(cell) <= limit else cell[:limit].rstrip() + "..."


def _is_text_field(name: str) -> bool:
    """Fields whose token_seq is running text (titles, reviews), not a list of tags."""
    return any(word in name.lower() for word in TEXT_FIELD_WORDS)


def _attributes(table: AtomicTable, id_field: str, limit: int) -> dict[str, dict[str, Any]]:
    kinds = {field_name(cell): cell.split(":", 1)[1] if ":" in cell else "token" for cell in table.header}
    if id_field not in kinds:
        raise IntentInputError(f"no {id_field!r} column (header: {list(table.header)})")
    attrs: dict[str, dict[str, Any]] = {}
    for row in table.frame.to_dict("records"):
        values = {k: _typed(v, kinds[k], limit, k) for k, v in row.items() if k != id_field}
        attrs[row[id_field]] = {k: v for k, v in values.items() if v is not None}
    return attrs


def load_source(folder: str | Path, name: str, options: IntentOptions) -> SourceData:
    """Read what the prompts may use; raises :class:`IntentInputError` naming the file."""
    folder = Path(folder)
    train_path = Path(options.train_file) if options.train_file else folder / f"{name}.train.inter"
    if not train_path.is_file():
        raise IntentInputError(
            f"{train_path} not found: prompts may only use training interactions, so the dataset needs a fixed "
            f"split ({name}.train.inter / .valid.inter / .test.inter, read by RecBole's benchmark_filename) "
            "or --train-file naming the training interactions"
        )
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    train_rows: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    if train_path.stat().st_size == 0:
        logger.warning("%s is empty (zero bytes): no training interactions, so only items/users with "
                       "attributes are asked and the others are skipped.", train_path)
    else:
        train = read_atomic(train_path)
        for needed in (options.user_field, options.item_field):
            if needed not in train.frame.columns:
                raise IntentInputError(f"{train_path}: no {needed!r} column (header: {list(train.header)})")
        if train.frame.empty:
            logger.warning("%s has a header only: no training interactions, so only items/users with "
                           "attributes are asked and the others are skipped.", train_path)
        kinds = {field_name(cell): cell.split(":", 1)[-1] for cell in train.header}
        train_rows = train.frame.to_dict("records")
    skip = {options.user_field, options.item_field, options.time_field}
    for row in train_rows:
        extra = {k: _typed(v, kinds[k], options.max_field_chars, k) for k, v in row.items() if k not in skip}
        extra = {k: v for k, v in extra.items() if v is not None}
        by_user[row[options.user_field]].append({"item_id": row[options.item_field], **extra})
        by_item[row[options.item_field]].append({"user_id": row[options.user_field], **extra})

    users, items = set(by_user), set(by_item)
    for part in SPLIT_FILES[1:] + ("",):
        path = folder / (f"{name}.{part}.inter" if part else f"{name}.inter")
        if path.is_file() and path != train_path:
            table = read_atomic(path)  # ids only: held-out rows never reach a prompt
            users.update(table.column(options.user_field))
            items.update(table.column(options.item_field))

    def side(ext: str, id_field: str) -> dict[str, dict[str, Any]]:
        path = folder / f"{name}.{ext}"
        if not path.is_file():
            return {}
        try:
            return _attributes(read_atomic(path), id_field, options.max_field_chars)
        except IntentInputError as exc:
            raise IntentInputError(f"{path}: {exc}") from exc

    return SourceData(
        item_attrs=side("item", options.item_field),
        user_attrs=side("user", options.user_field),
        train_by_user=dict(by_user),
        train_by_item=dict(by_item),
        user_ids=sort_ids(users),
        item_ids=sort_ids(items),
    )


# -------------------------------------------------------------------- payloads
def _sample(rows: list[dict[str, Any]], limit: int, seed: int, key: str) -> list[dict[str, Any]]:
    """Up to ``limit`` rows, the same ones on every run (seeded per entity)."""
    if len(rows) <= limit:
        return list(rows)
    picked = random.Random(f"{seed}:{key}").sample(range(len(rows)), limit)
    return [rows[k] for k in sorted(picked)]


def _mean_rating(rows: list[dict[str, Any]], rating_field: str) -> float | None:
    ratings = [r[rating_field] for r in rows if isinstance(r.get(rating_field), (int, float))]
    return round(sum(ratings) / len(ratings), 2) if ratings else None


def item_payload(item_id: str, source: SourceData, options: IntentOptions) -> dict[str, Any]:
    """Item attributes plus statistics (and sampled reviews) of its training interactions."""
    rows = source.train_by_item.get(item_id, [])
    stats: dict[str, Any] = {"count": len(rows)}
    mean = _mean_rating(rows, options.rating_field)
    if mean is not None:
        stats["mean_rating"] = mean
    payload: dict[str, Any] = {"id": item_id, "item": source.item_attrs.get(item_id, {}), "training_interactions": stats}
    # Free-text interaction fields (reviews) are worth quoting; ratings are already summarised.
    reviews = [
        {k: v for k, v in r.items() if k not in ("user_id", options.rating_field)}
        for r in _sample(rows, options.max_item_reviews, options.seed, f"item:{item_id}")
    ]
    reviews = [r for r in reviews if r]
    if reviews:
        payload["sample_reviews"] = reviews
    return payload


def item_label(item_id: str, source: SourceData, summaries: dict[str, str]) -> str:
    """How a user prompt refers to an item: its written summary, else its attributes."""
    if item_id in summaries:
        return summaries[item_id]
    attrs = source.item_attrs.get(item_id, {})
    parts = [", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in attrs.values()]
    return "; ".join(parts) or f"item {item_id}"


def user_payload(
    user_id: str, source: SourceData, summaries: dict[str, str], options: IntentOptions
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """User attributes plus sampled training interactions; also returns the item ids used (evidence)."""
    rows = source.train_by_user.get(user_id, [])
    sampled = _sample(rows, options.max_user_items, options.seed, f"user:{user_id}")
    interactions = [
        {"item": item_label(r["item_id"], source, summaries), **{k: v for k, v in r.items() if k != "item_id"}}
        for r in sampled
    ]
    payload = {
        "id": user_id,
        "user": source.user_attrs.get(user_id, {}),
        "interaction_count": len(rows),
        "interactions": interactions,
    }
    return payload, tuple(dict.fromkeys(r["item_id"] for r in sampled))


# ---------------------------------------------------------------------- driver
def _limited(ids: list[str], limit: int | None) -> list[str]:
    return ids if limit is None else ids[:limit]


def build_requests(
    prompt: Prompt, source: SourceData, options: IntentOptions, summaries: dict[str, str]
) -> tuple[list[ChatRequest], dict[str, tuple[str, ...]], list[str]]:
    """The requests of one task, each entity's evidence ids, and the ids skipped for lack of any input."""
    requests, evidence, skipped = [], {}, []
    if prompt.task.startswith("item_"):
        for item_id in _limited(source.item_ids, options.limit_items):
            if not (source.train_by_item.get(item_id) or source.item_attrs.get(item_id)):
                skipped.append(item_id)
                continue
            requests.append(prompt.request(item_id, item_payload(item_id, source, options)))
            evidence[item_id] = (item_id,) if source.train_by_item.get(item_id) else ()
    else:
        for user_id in _limited(source.user_ids, options.limit_users):
            if not (source.train_by_user.get(user_id) or source.user_attrs.get(user_id)):
                skipped.append(user_id)
                continue
            payload, used = user_payload(user_id, source, summaries, options)
            requests.append(prompt.request(user_id, payload))
            evidence[user_id] = used
    return requests, evidence, skipped


def _ordered(tasks: Sequence[str]) -> list[str]:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise IntentInputError(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    return [t for t in TASKS if t in tasks]  # items before users, profiles before intents


def dry_run(folder: str | Path, name: str, options: IntentOptions, max_tokens: int, out=print) -> dict[str, int]:
    """Print one sample prompt per task and a token estimate; sends nothing."""
    source = load_source(folder, name, options)
    totals = {"requests": 0, "prompt_tokens": 0, "completion_tokens_max": 0}
    for task in _ordered(options.tasks):
        prompt = load_prompt(task, options.prompt_dir, options.prompt_set)
        requests, _, _ = build_requests(prompt, source, options, summaries={})
        chars = sum(len(m["content"]) for r in requests for m in r.messages)
        estimate = chars // CHARS_PER_TOKEN
        totals["requests"] += len(requests)
        totals["prompt_tokens"] += estimate
        totals["completion_tokens_max"] += len(requests) * max_tokens
        out(f"=== {task}: {len(requests)} requests, about {estimate:,} prompt tokens ({prompt.source})")
        if requests:
            for message in requests[0].messages:
                out(f"--- {message['role']}\n{message['content']}")
    out(
        f"=== total: {totals['requests']:,} requests, about {totals['prompt_tokens']:,} prompt tokens "
        f"(user prompts will quote item summaries, usually longer than the attributes shown here) "
        f"and at most {totals['completion_tokens_max']:,} completion tokens"
    )
    return totals


def generate_texts(
    folder: str | Path, name: str, backend: ChatBackend, options: IntentOptions, progress: bool = True
) -> IntentReport:
    """Run every requested task and write the text files; failures are reported, not raised."""
    folder = Path(folder)
    source = load_source(folder, name, options)
    out = Path(options.out_dir) if options.out_dir else folder
    problem = managed_folder_message(out, "LLM texts and their cache")
    if problem:
        raise IntentInputError(problem + " or --out-dir")
    out.mkdir(parents=True, exist_ok=True)
    cache = AnswerCache(options.cache_path or out / f"{name}.llmcache.jsonl")
    report = IntentReport()
    texts: dict[str, dict[str, dict[str, str]]] = {"item": defaultdict(dict), "user": defaultdict(dict)}
    evidence: dict[str, dict[str, tuple[str, ...]]] = {"item": {}, "user": {}}
    summaries: dict[str, str] = {}
    tasks = _ordered(options.tasks)
    try:
        for task in tasks:
            prompt = load_prompt(task, options.prompt_dir, options.prompt_set)
            requests, used, skipped = build_requests(prompt, source, options, summaries)
            side, kind = task.split("_")
            if skipped and side not in report.skipped:
                report.skipped[side] = skipped
                logger.warning("Skipping %d %s(s) with neither a training interaction nor attributes, e.g. %s.",
                               len(skipped), side, ", ".join(skipped[:5]))
            answers, task_report = run_requests(
                backend, cache, requests, concurrency=options.concurrency, max_reasks=options.max_reasks,
                desc=task, progress=progress,
            )
            report.tasks.append(task_report)
            for entity_id, answer in answers.items():
                texts[side][entity_id][kind] = answer_text(answer, prompt.text_key)
            evidence[side].update(used)
            if task == "item_profile":
                summaries = {i: t["profile"] for i, t in texts["item"].items() if "profile" in t}
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {_saved(cache)}") from None
    except FatalBackendError as exc:
        raise FatalBackendError(f"{exc}; {_saved(cache)}") from exc

    for side in ("item", "user"):
        wanted = [t.split("_")[1] for t in tasks if t.startswith(side)]
        if not wanted:
            continue
        records = [
            TextRecord(i, t.get("profile", ""), t.get("intent", ""), evidence[side].get(i, ()))
            for i, t in texts[side].items()
            if all(k in t for k in wanted)  # an entity with a failed task waits for the re-run
        ]
        path = out / f"{name}.{side}.texts.jsonl"
        write_text_records(path, sorted_by_id(records))
        report.outputs.append(path)

    failures_path = out / f"{name}.llm-failures.json"
    if report.failed:
        atomic_write_json(
            failures_path, {t.task: t.failures for t in report.tasks if t.failures}
        )
        report.failures_file = failures_path
    elif failures_path.exists():
        failures_path.unlink()  # a clean run leaves no stale list behind
    return report


def _saved(cache: AnswerCache) -> str:
    """What a stopped run leaves behind, for its last line."""
    return (f"{cache.added} new answer(s) this run are cached in {cache.path} ({len(cache)} in all); "
            "run the same command again to resume")


def summary_lines(report: IntentReport, max_failures: int = 10) -> list[str]:
    """Human-readable end-of-run summary."""
    lines = [f"{'task':<14}{'requests':>9}{'cached':>8}{'new':>6}{'failed':>8}{'reasks':>8}{'parsed':>8}"
             f"{'tokens':>10}{'seconds':>9}{'req/s':>7}{'tok/s':>7}"]
    rows = list(report.tasks)
    if len(rows) > 1:
        rows.append(_total(rows))
    for t in rows:
        parsed = f"{t.parsed_first / t.asked:.0%}" if t.asked else "-"
        lines.append(
            f"{t.task:<14}{t.total:>9}{t.cached:>8}{t.answered:>6}{len(t.failures):>8}{t.reasks:>8}{parsed:>8}"
            f"{t.prompt_tokens + t.completion_tokens:>10}{t.seconds:>9.1f}{t.per_second(t.asked):>7.2f}"
            f"{t.per_second(t.completion_tokens):>7.1f}"
        )
    lines.append("parsed: asked requests whose first answer parsed; req/s: asked requests per second; "
                 "tok/s: completion tokens per second")
    forms = _total(report.tasks).response_formats
    if forms:
        lines.append("answers constrained by: " + ", ".join(f"{form} {n}" for form, n in forms.items()))
    for side, ids in report.skipped.items():
        lines.append(f"skipped {len(ids)} {side}(s) with neither a training interaction nor attributes "
                     "(nothing to write from; they get no text)")
    shown = 0
    for t in report.tasks:
        for entity_id, error in t.failures.items():
            if shown == max_failures:
                lines.append(f"... and more: see {report.failures_file}")
                return lines + _rerun_hint(report)
            lines.append(f"FAILED {t.task} {entity_id}: {error}")
            shown += 1
    return lines + _rerun_hint(report)


def _total(tasks: list[TaskReport]) -> TaskReport:
    """One row summing the tasks (they run one after another, so seconds add up)."""
    total = TaskReport(task="total")
    for t in tasks:
        total.total += t.total
        total.cached += t.cached
        total.answered += t.answered
        total.failures.update({f"{t.task}:{k}": v for k, v in t.failures.items()})
        total.reasks += t.reasks
        total.parsed_first += t.parsed_first
        total.prompt_tokens += t.prompt_tokens
        total.completion_tokens += t.completion_tokens
        total.seconds += t.seconds
        for form, count in t.response_formats.items():
            total.response_formats[form] = total.response_formats.get(form, 0) + count
    return total


def _rerun_hint(report: IntentReport) -> list[str]:
    if not report.failed:
        return [f"wrote {', '.join(str(p) for p in report.outputs)}"]
    return [
        f"{report.failed} request(s) failed (listed in {report.failures_file}); "
        "run the same command again to retry only those (answers so far are cached)."
    ]

