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


class _RequestFailed(Exception):
    def __init__(self, message: str, usage: tuple[int, int], attempts: int) -> None:
        super().__init__(message)
        self.usage = usage
        self.attempts = attempts


def _ask(backend: ChatBackend, request: ChatRequest, max_reasks: int) -> tuple[dict[str, Any], str, tuple[int, int], int]:
    """Ask until the answer parses, at most ``1 + max_reasks`` times."""
    messages = request.messages
    prompt_tokens = completion_tokens = 0
    problem = ""
    for attempt in range(1, max_reasks + 2):
        try:
            answer = backend.complete(replace(request, messages=messages))
        except InvalidResponseError as exc:
            problem = str(exc)
            continue  # same messages again: the model never saw its reply
        except FatalBackendError:
            raise
        except Exception as exc:  # transport already retried by the backend: give up on this one
            raise _RequestFailed(f"{type(exc).__name__}: {exc}", (prompt_tokens, completion_tokens), attempt) from exc
        prompt_tokens += answer.prompt_tokens
        completion_tokens += answer.completion_tokens
        try:
            parsed = parse_answer(answer.text, request.output_keys)
        except AnswerFormatError as exc:
            problem = str(exc)
            messages = reask_messages(request, answer.text, str(exc).split(":", 1)[0])
            continue
        return parsed, answer.text, (prompt_tokens, completion_tokens), attempt
    raise _RequestFailed(problem, (prompt_tokens, completion_tokens), max_reasks + 1)


class _NotStarted(Exception):
    """The batch was stopping when a worker reached this request."""


def _ask_and_cache(
    backend: ChatBackend, cache: AnswerCache, request: ChatRequest, key: str, max_reasks: int,
    stop: threading.Event,
) -> tuple[dict[str, Any], tuple[int, int]]:
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
        parsed, text, usage, attempts = _ask(backend, request, max_reasks)
    except FatalBackendError:
        stop.set()  # every further request would fail the same way
        raise
    except _RequestFailed as exc:
        cache.append({**record, "status": FAILED, "error": str(exc), "attempts": exc.attempts,
                      "usage": list(exc.usage)})
        raise
    cache.append({**record, "status": OK, "answer": parsed, "text": text, "attempts": attempts,
                  "usage": list(usage)})
    return parsed, usage


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
    try:
        for request, key in pending:
            futures[pool.submit(_ask_and_cache, backend, cache, request, key, max_reasks, stop)] = request
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in done:
                request = futures[future]
                try:
                    parsed, usage = future.result()
                except _NotStarted:
                    continue  # the fatal error that stopped the batch is in this or an earlier `done`
                except _RequestFailed as exc:
                    report.failures[request.entity_id] = str(exc)
                    usage = exc.usage
                else:
                    answers[request.entity_id] = parsed
                    report.answered += 1
                report.prompt_tokens += usage[0]
                report.completion_tokens += usage[1]
                bar.update(1)
                bar.set_postfix(
                    cached=report.cached,
                    new=report.answered,
                    failed=len(report.failures),
                    tokens=report.prompt_tokens + report.completion_tokens,
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
    return answers, report
