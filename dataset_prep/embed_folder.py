"""``python -m dataset_prep embed``: LLM-written texts to RecBole feature files.

Reads ``<name>.user.texts.jsonl`` / ``<name>.item.texts.jsonl`` (written by
``python -m dataset_prep intents``), embeds every profile text with one
embedder and every intent text with another (by default the same), and
writes ``<name>.useremb`` / ``<name>.itememb`` (see :mod:`dataset_prep.features`).

Identical texts are embedded once. Vectors are cached batch by batch in an
append-only file (:mod:`dataset_prep.vector_cache`), so a killed run resumes
where it stopped and a re-run of an unchanged folder sends nothing. The
feature files are only written once every vector is at hand, each atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recbole_irllrec.data.text_features import ITEM_SUFFIX, USER_SUFFIX

from .embed import Embedder, SentenceTransformerEmbedder, embed_texts
from .errors import InputError, Interrupted
from .features import write_feature_file
from .llm.backend import FatalBackendError
from .manifest import managed_folder_message
from .recbole_io import read_atomic, sort_ids
from .text_records import TextRecord, record_id, sorted_by_id
from .vector_cache import VectorCache

logger = logging.getLogger(__name__)

SIDES = (("user", USER_SUFFIX), ("item", ITEM_SUFFIX))
DEFAULT_SPEC = "st:all-MiniLM-L6-v2"
SHOWN_IDS = 5  # how many missing ids an error message lists


class EmbedInputError(InputError):
    """The folder cannot be embedded as it is (missing or malformed texts, missing ids, bad spec)."""


class EmbeddingError(RuntimeError):
    """An embedder returned unusable vectors (wrong shape, NaN, sizes that disagree)."""


@dataclass
class EmbedReport:
    """What a run did: unique texts per embedder, how many came from the cache, and the files written."""

    texts: int = 0
    cached: int = 0
    embedded: int = 0
    dims: dict[str, int] = field(default_factory=dict)  # embedder name -> vector size
    dropped: dict[str, int] = field(default_factory=dict)  # side -> records of ids without interactions
    outputs: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------- embedders
def make_embedder(
    spec: str,
    *,
    device: str | None = None,
    batch_size: int = 64,
    base_url: str | None = None,
    max_retries: int = 5,
    timeout: float = 60.0,
    dimensions: int | None = None,
) -> Embedder:
    """``st:PATH_OR_HUB_NAME`` (sentence-transformers) or ``openai:MODEL`` (an /embeddings endpoint)."""
    kind, _, model = spec.partition(":")
    if not model:
        raise EmbedInputError(f"embedder {spec!r}: expected st:PATH_OR_HUB_NAME or openai:MODEL")
    if kind == "st":
        # st:all-MiniLM-L6-v2 resolves to the local package inside SentenceTransformerEmbedder.
        return SentenceTransformerEmbedder(device=device, batch_size=batch_size, model=model, show_progress=False)
    if kind == "openai":
        from .llm.openai_embed import OpenAIEmbedder

        return OpenAIEmbedder(model, base_url=base_url, dimensions=dimensions, max_retries=max_retries,
                              timeout=timeout)
    raise EmbedInputError(f"embedder {spec!r}: unknown kind {kind!r}; use st:... or openai:...")


# --------------------------------------------------------------------- input
def read_texts_strict(path: str | Path) -> list[TextRecord]:
    """Read a texts file, raising :class:`EmbedInputError` with file and line for any bad line.

    Stricter than :func:`dataset_prep.text_records.read_text_records`: both
    texts must be non-empty and every id must appear once.
    """
    path = Path(path)
    if not path.is_file():
        raise EmbedInputError(f"{path} not found: write it first with `python -m dataset_prep intents`")
    records: list[TextRecord] = []
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EmbedInputError(f"{where}: not a JSON object ({exc.msg})") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise EmbedInputError(f"{where}: expected an object with id, profile and intent")
            try:
                raw_id = record_id(obj["id"])
            except ValueError as exc:
                raise EmbedInputError(f"{where}: {exc}") from None
            for key in ("profile", "intent"):
                value = obj.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise EmbedInputError(f"{where}: empty or missing {key} text for id {raw_id!r}")
            if raw_id in first_line:
                raise EmbedInputError(f"{where}: duplicate id {raw_id!r} (first on line {first_line[raw_id]})")
            first_line[raw_id] = number
            evidence = obj.get("evidence") or []
            records.append(TextRecord(raw_id, obj["profile"], obj["intent"], tuple(str(e) for e in evidence)))
    if not records:
        raise EmbedInputError(f"{path}: no texts (the file holds no records); write them with "
                              "`python -m dataset_prep intents`")
    return records


def interaction_ids(folder: str | Path, name: str, user_field: str = "user_id",
                    item_field: str = "item_id") -> dict[str, set[str]]:
    """User and item ids of ``<name>.inter`` and/or ``<name>.{train,valid,test}.inter``."""
    folder = Path(folder)
    paths = [folder / f"{name}.{part}.inter" for part in ("train", "valid", "test")] + [folder / f"{name}.inter"]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise EmbedInputError(f"no interactions in {folder}: expected {name}.inter or {name}.train/valid/test.inter")
    ids: dict[str, set[str]] = {"user": set(), "item": set()}
    for path in paths:
        table = read_atomic(path)
        for side, column in (("user", user_field), ("item", item_field)):
            if column not in table.frame.columns:
                raise EmbedInputError(f"{path}: no {column!r} column (header: {list(table.header)})")
            ids[side].update(table.column(column))
    if not ids["user"]:
        raise EmbedInputError(f"no interactions in {', '.join(map(str, paths))}: the files hold a header only")
    return ids


def _check_coverage(path: Path, records: list[TextRecord], needed: set[str], side: str) -> None:
    missing = sort_ids(needed - {r.id for r in records})
    if missing:
        shown = ", ".join(repr(i) for i in missing[:SHOWN_IDS])
        more = f" and {len(missing) - SHOWN_IDS} more" if len(missing) > SHOWN_IDS else ""
        raise EmbedInputError(
            f"{path}: no text for {len(missing)} {side}(s) of the interactions: {shown}{more} "
            "(re-run `python -m dataset_prep intents` to fill them; it skips ids with neither a training "
            "interaction nor attributes)"
        )


# -------------------------------------------------------------------- driver
def embed_unique(
    jobs: Sequence[tuple[Embedder, Sequence[str]]],
    cache: VectorCache,
    batch_size: int = 64,
    progress: bool = True,
    report: EmbedReport | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Vectors for every text of every ``(embedder, texts)`` job, by embedder name then text.

    Texts are deduplicated per embedder; only those not cached are embedded,
    ``batch_size`` at a time, each batch cached before the next one starts.
    """
    from tqdm.auto import tqdm

    report = report if report is not None else EmbedReport()
    # Jobs of the same embedder (profile and intent with one model) share one text list.
    embedders: dict[str, Embedder] = {}
    wanted: dict[str, dict[str, None]] = {}
    for embedder, texts in jobs:
        embedders.setdefault(embedder.name, embedder)
        wanted.setdefault(embedder.name, {}).update(dict.fromkeys(texts))
    todo = {name: cache.missing(name, texts) for name, texts in wanted.items()}
    report.texts += sum(len(t) for t in wanted.values())
    report.cached += sum(len(wanted[n]) - len(todo[n]) for n in wanted)

    dims = {name: _cached_dim(cache, name, wanted[name]) for name in wanted}
    total = sum(len(t) for t in todo.values())
    try:
        with tqdm(total=total, desc="embedding", unit="text", disable=not progress or total == 0) as bar:
            for name, texts in todo.items():
                if texts:
                    logger.info("Embedding %d new texts with %s (%d cached).", len(texts), name,
                                len(wanted[name]) - len(texts))
                for start in range(0, len(texts), batch_size):
                    batch = texts[start:start + batch_size]
                    try:
                        vectors = embed_texts(embedders[name], batch)
                    except ValueError as exc:
                        raise EmbeddingError(str(exc)) from exc
                    if dims[name] is not None and vectors.shape[1] != dims[name]:
                        raise EmbeddingError(
                            f"embedder {name!r} returned {vectors.shape[1]}-d vectors, but {dims[name]}-d ones "
                            "are cached for it; delete the cache file or use another embedder"
                        )
                    dims[name] = vectors.shape[1]
                    cache.add(name, batch, vectors)  # durable before the next request: a kill loses one batch
                    report.embedded += len(batch)
                    bar.update(len(batch))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {_saved(cache, report)}") from None
    except FatalBackendError as exc:
        raise FatalBackendError(f"{exc}; {_saved(cache, report)}") from exc

    result: dict[str, dict[str, np.ndarray]] = {}
    for name, texts in wanted.items():
        result[name] = {text: cache.get(name, text) for text in texts}
        if dims[name] is not None:
            report.dims[name] = dims[name]
    return result


def _saved(cache: VectorCache, report: EmbedReport) -> str:
    """What a stopped run leaves behind, for its last line (each batch is cached as it arrives)."""
    if cache.path is None:
        return f"{report.embedded} vector(s) were embedded this run but not kept (--no-cache)"
    return (f"{report.embedded} new vector(s) this run are cached in {cache.path}; "
            "run the same command again to resume")


def _cached_dim(cache: VectorCache, name: str, texts: dict[str, None]) -> int | None:
    """The one vector size the cache holds for ``name`` among ``texts`` (None if none cached)."""
    sizes = {v.shape[0] for v in (cache.get(name, t) for t in texts) if v is not None}
    if len(sizes) > 1:
        raise EmbeddingError(
            f"the cache {cache.path} holds vectors of sizes {sorted(sizes)} for embedder {name!r}; delete it"
        )
    return sizes.pop() if sizes else None


def embed_folder(
    folder: str | Path,
    name: str | None = None,
    profile_embedder: Embedder | None = None,
    intent_embedder: Embedder | None = None,
    *,
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    batch_size: int = 64,
    user_field: str = "user_id",
    item_field: str = "item_id",
    progress: bool = True,
    texts_dir: str | Path | None = None,
) -> EmbedReport:
    """Embed the texts files of ``texts_dir`` (default ``folder``) for the
    interactions in ``folder`` and write ``<name>.useremb`` / ``<name>.itememb``
    into ``folder``, where RecBole reads them.

    ``profile_embedder`` None means all-MiniLM-L6-v2; ``intent_embedder``
    None means the profile embedder. The cache defaults to
    ``<texts_dir>/<name>.embcache.jsonl``, beside the texts it was made from;
    ``use_cache=False`` keeps it in memory.
    Raises :class:`EmbedInputError` before anything is embedded if a texts
    file is malformed or lacks an id of the interactions.
    """
    if batch_size < 1:
        raise EmbedInputError(f"batch size must be positive, got {batch_size}")
    folder = Path(folder)
    texts_dir = folder if texts_dir is None else Path(texts_dir)
    name = name or folder.resolve().name
    problem = managed_folder_message(folder, "the new feature files")
    if problem:
        raise EmbedInputError(problem)
    profile_embedder = profile_embedder or SentenceTransformerEmbedder(show_progress=False)
    intent_embedder = intent_embedder or profile_embedder
    needed = interaction_ids(folder, name, user_field, item_field)
    report = EmbedReport()

    # Validate everything before the first (possibly paid) request.
    records: dict[str, list[TextRecord]] = {}
    for side, _ in SIDES:
        path = texts_dir / f"{name}.{side}.texts.jsonl"
        side_records = read_texts_strict(path)
        _check_coverage(path, side_records, needed[side], side)
        # RecBole (recbole_irllrec.data.dataset) rejects feature rows of ids without interactions.
        kept = [r for r in side_records if r.id in needed[side]]
        if len(kept) < len(side_records):
            report.dropped[side] = len(side_records) - len(kept)
            extra = sort_ids(r.id for r in side_records if r.id not in needed[side])
            logger.info("%s: leaving out %d %s(s) without interactions, e.g. %s", path, len(extra), side,
                        ", ".join(extra[:SHOWN_IDS]))
        records[side] = sorted_by_id(kept)

    all_records = records["user"] + records["item"]
    names = {profile_embedder.name, intent_embedder.name}
    cache = VectorCache((cache_path or texts_dir / f"{name}.embcache.jsonl") if use_cache else None, names=names)
    vectors = embed_unique(
        [(profile_embedder, [r.profile for r in all_records]), (intent_embedder, [r.intent for r in all_records])],
        cache, batch_size=batch_size, progress=progress, report=report,
    )

    for side, suffix in SIDES:
        rows = records[side]
        profiles = np.stack([vectors[profile_embedder.name][r.profile] for r in rows])
        intents = np.stack([vectors[intent_embedder.name][r.intent] for r in rows])
        path = folder / f"{name}.{suffix}"
        write_feature_file(path, suffix, [r.id for r in rows], profiles, intents)
        report.outputs.append(path)
    return report


def summary_line(report: EmbedReport) -> str:
    """One line for the end of a run."""
    dims = ", ".join(f"{n} {d}-d" for n, d in report.dims.items())
    dropped = "".join(f"; left out {n} {side}(s) without interactions" for side, n in report.dropped.items())
    return (f"{report.texts} unique texts ({report.cached} cached, {report.embedded} embedded) with {dims}{dropped}; "
            f"wrote {', '.join(str(p) for p in report.outputs)}")
