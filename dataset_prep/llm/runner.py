"""Runs a batch of chat requests: cache first, bounded concurrency, re-asks, failures.

Every request ends as exactly one of: served from the cache, answered now
(cached at once), or failed (recorded, listed in the report, retried by the
next run). Only :class:`FatalBackendError` (or Ctrl-C) stops the batch.

The worker thread that receives an answer appends it to the cache itself,
before the main loop hears of it: when the batch stops, requests already in
flight still finish and land in the cache, so nothing the server sent (and
billed) is lost. Requests not started yet are cancelled, and once a worker
meets a fatal error no worker starts another one.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from tqdm.auto import tqdm

from .backend import ChatBackend, ChatRequest, FatalBackendError, InvalidResponseError
from .cache import FAILED, OK, AnswerCache, cache_key
from .prompts import AnswerFormatError, parse_answer, reask_messages

logger = logging.getLogger(__name__)


@dataclass
class TaskReport:
    """Counts for one task; ``failures`` maps entity id -> last error."""

    task: str
    total: int = 0
    cached: int = 0
    answered: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    parsed_first: int = 0  # requests asked now whose first answer parsed
    reasks: int = 0  # answers that did not parse and were asked again
    seconds: float = 0.0  # wall time of the requests asked now
    response_formats: dict[str, int] = field(default_factory=dict)  # how the answers were constrained

    @property
    def asked(self) -> int:
        """Requests sent to the backend now (not served from the cache)."""
        return self.answered + len(self.failures)

    def per_second(self, count: float) -> float:
        return count / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Outcome:
    """What asking one request took: usage, attempts, re-asks, the last answer's form."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    reasks: int = 0
    parsed_first: bool = False
    response_format: str = ""
    model: str = ""

    @property
    def usage(self) -> tuple[int, int]:
        return self.prompt_tokens, self.completion_tokens

    def record(self) -> dict[str, Any]:
        """The cache record's audit fields."""
        extra = {k: v for k, v in (("response_format", self.response_format), ("answered_by", self.model)) if v}
        return {"attempts": self.attempts, "reasks": self.reasks, "usage": list(self.usage), **extra}


class _RequestFailed(Exception):
    def __init__(self, message: str, outcome: _Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def _ask(backend: ChatBackend, request: ChatRequest, max_reasks: int) -> tuple[dict[str, Any], str, _Outcome]:
    """Ask until the answer parses, at most ``1 + max_reasks`` times."""
    messages = request.messages
    outcome = _Outcome()
    problem = ""
    for attempt in range(1, max_reasks + 2):
        outcome.attempts = attempt
        try:
            answer = backend.complete(replace(request, messages=messages))
        except InvalidResponseError as exc:
            problem = str(exc)
            continue  # same messages again: the model never saw its reply
        except FatalBackendError:
            raise
        except Exception as exc:  # transport already retried by the backend: give up on this one
            raise _RequestFailed(f"{type(exc).__name__}: {exc}", outcome) from exc
        outcome.prompt_tokens += answer.prompt_tokens
        outcome.completion_tokens += answer.completion_tokens
        outcome.response_format, outcome.model = answer.response_format, answer.model
        try:
            parsed = parse_answer(answer.text, request.output_keys)
        except AnswerFormatError as exc:
            problem = str(exc)
            if attempt <= max_reasks:
                outcome.reasks += 1
            messages = reask_messages(request, answer.text, str(exc).split(":", 1)[0])
            continue
        outcome.parsed_first = attempt == 1
        return parsed, answer.text, outcome
    raise _RequestFailed(problem, outcome)


class _NotStarted(Exception):
    """The batch was stopping when a worker reached this request."""


def _ask_and_cache(
    backend: ChatBackend, cache: AnswerCache, request: ChatRequest, key: str, max_reasks: int,
    stop: threading.Event,
) -> tuple[dict[str, Any], _Outcome]:
    """Runs in a worker: ask, then append the outcome to the cache at once (a stopped batch keeps it)."""
    if stop.is_set():
        raise _NotStarted
    record = {
        "key": key,
        "backend": backend.name,
        "model": backend.model,
        "task": request.task,
        "id": request.entity_id,
        "prompt_sha": request.prompt_sha(),
    }
    try:
        parsed, text, outcome = _ask(backend, request, max_reasks)
    except FatalBackendError:
        stop.set()  # every further request would fail the same way
        raise
    except _RequestFailed as exc:
        cache.append({**record, "status": FAILED, "error": str(exc), **exc.outcome.record()})
        raise
    cache.append({**record, "status": OK, "answer": parsed, "text": text, **outcome.record()})
    return parsed, outcome


def run_requests(
    backend: ChatBackend,
    cache: AnswerCache,
    requests: list[ChatRequest],
    *,
    concurrency: int = 8,
    max_reasks: int = 2,
    desc: str | None = None,
    progress: bool = True,
) -> tuple[dict[str, dict[str, Any]], TaskReport]:
    """Answers by entity id (parsed JSON) for every request that succeeded, and the report."""
    task = requests[0].task if requests else (desc or "")
    report = TaskReport(task=task, total=len(requests))
    answers: dict[str, dict[str, Any]] = {}
    pending: list[tuple[ChatRequest, str]] = []
    for request in requests:
        key = cache_key(backend, request)
        hit = cache.get(key)
        if hit is not None:
            answers[request.entity_id] = hit["answer"]
            report.cached += 1
        else:
            pending.append((request, key))

    bar = tqdm(total=len(requests), initial=report.cached, desc=desc or task, unit="req", disable=not progress)
    workers = max(1, min(concurrency, backend.max_concurrency))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm")
    futures: dict[Future, ChatRequest] = {}
    remaining: set[Future] = set()
    stop = threading.Event()
    started = time.perf_counter()
    try:
        for request, key in pending:
            futures[pool.submit(_ask_and_cache, backend, cache, request, key, max_reasks, stop)] = request
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in done:
                request = futures[future]
                try:
                    parsed, outcome = future.result()
                except _NotStarted:
                    continue  # the fatal error that stopped the batch is in this or an earlier `done`
                except _RequestFailed as exc:
                    report.failures[request.entity_id] = str(exc)
                    outcome = exc.outcome
                else:
                    answers[request.entity_id] = parsed
                    report.answered += 1
                    report.parsed_first += outcome.parsed_first
                _count(report, outcome)
                bar.update(1)
                tokens = report.prompt_tokens + report.completion_tokens
                bar.set_postfix(
                    new=report.answered,
                    failed=len(report.failures),
                    reasks=report.reasks,
                    tokens=tokens,
                    # the running cost estimate: this task's tokens at the pace so far
                    est_tokens=round(tokens * len(pending) / report.asked),
                    refresh=False,
                )
    finally:
        # On a fatal error or Ctrl-C: cancel what has not started and let the requests in flight
        # finish, so that their workers cache what the server sends.
        stop.set()
        running = sum(f.running() for f in remaining)
        if running:
            logger.info("Stopping: waiting for %d request(s) in flight; their answers will be cached.", running)
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        report.seconds = time.perf_counter() - started
    return answers, report


def _count(report: TaskReport, outcome: _Outcome) -> None:
    report.prompt_tokens += outcome.prompt_tokens
    report.completion_tokens += outcome.completion_tokens
    report.reasks += outcome.reasks
    if outcome.response_format:
        report.response_formats[outcome.response_format] = report.response_formats.get(outcome.response_format, 0) + 1
