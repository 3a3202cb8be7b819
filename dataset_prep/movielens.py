"""Preparation of RecBole's bundled MovieLens-100K for IRLLRec.

``prepare_ml100k`` writes ``<data_root>/ml-100k/`` with fixed
train/valid/test interaction files, user/item texts (JSON lines) and their
embeddings (``.useremb`` / ``.itememb``), plus a manifest that lets a
second call with the same parameters reuse the folder.

Leakage guarantee: the texts are built from the training file *as written
to disk*, i.e. from exactly the interactions RecBole will train on.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recbole_irllrec.data.text_features import ITEM_SUFFIX, USER_SUFFIX

from recbole_irllrec.data.cold import embedded_folder_name, is_cold_split

from .atomic import staged_directory
from .cold_split import cold_split, write_cold_ids
from .embed import DEFAULT_EMBEDDER_NAME, Embedder, SentenceTransformerEmbedder, embed_texts
from .errors import InputError
from .features import write_feature_file
from .manifest import build_params, reusable, write_manifest
from .recbole_io import AtomicTable, read_atomic, sort_ids, write_atomic
from .split import SPLIT_NAMES, normalize_ratios, split_by_user
from .text_records import TextRecord, write_text_records
from .writers import Movie, OfflineMovieWriter, Rating, TextWriter, Viewer
from .writers.english import tidy_title

logger = logging.getLogger(__name__)

ML100K = "ml-100k"
UNKNOWN = ("unknown", "unkonwn", "")  # ml-100k spells its one blank movie "unkonwn"


def ml100k_source_dir() -> Path:
    """Folder of the ml-100k copy shipped inside the recbole package (found without importing it)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("recbole is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / ML100K


def prepare_ml100k(
    data_root: str | Path,
    *,
    embedder: Embedder | None = None,
    seed: int = 2020,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    force: bool = False,
    source_dir: str | Path | None = None,
    cold_item_ratio: float = 0.0,
    cold_user_ratio: float = 0.0,
    cold_seed: int = 2020,
) -> Path:
    """Build (or reuse) ``<data_root>/ml-100k`` and return its path.

    ``embedder`` None means the default all-MiniLM-L6-v2 model, loaded only
    when a build is needed. ``source_dir`` overrides the bundled ml-100k
    (files ``ml-100k.inter``/``.item``/``.user``), mainly for tests.
    A cold ratio > 0 builds a cold-start split instead, in
    ``<data_root>/ml-100k-cold-i<items>-u<users>-s<cold_seed>``
    (:mod:`dataset_prep.cold_split`), before any text is written.
    """
    source = Path(source_dir) if source_dir is not None else ml100k_source_dir()
    cold = (float(cold_item_ratio), float(cold_user_ratio), int(cold_seed))
    target = Path(data_root) / embedded_folder_name(ML100K, *cold)
    writer = OfflineMovieWriter()
    shares = normalize_ratios(ratios)  # validate before any work
    inter_path = source / f"{ML100K}.inter"
    if not inter_path.is_file():
        raise FileNotFoundError(f"no interaction file at {inter_path}")
    sources = [p for p in (source / f"{ML100K}.{ext}" for ext in ("inter", "item", "user")) if p.is_file()]
    params = build_params(
        dataset=ML100K,
        seed=seed,
        ratios=[float(r) for r in ratios],
        writer={"name": writer.name, "version": writer.version},
        embedder=embedder.name if embedder is not None else DEFAULT_EMBEDDER_NAME,
        sources=sources,
    )
    if is_cold_split(*cold[:2]):  # only then: an ordinary folder keeps its manifest, and is reused
        params["cold"] = {"item_ratio": cold[0], "user_ratio": cold[1], "seed": cold[2]}
    if not force and reusable(target, params):
        logger.info("Reusing prepared dataset at %s (manifest matches).", target)
        return target

    started = time.perf_counter()
    logger.info("Building %s from %s (seed=%d, ratios=%s).", target, source, seed, list(ratios))
    if embedder is None:
        embedder = SentenceTransformerEmbedder()
    with staged_directory(target) as staging:
        stats = _build(staging, source, writer, embedder, seed, shares, cold)
        stats["seconds"] = round(time.perf_counter() - started, 2)
        write_manifest(staging, params, [p.name for p in staging.iterdir()], stats)
    logger.info("Prepared %s in %.1f s: %s", target, time.perf_counter() - started, stats)
    return target


def _build(
    folder: Path, source: Path, writer: TextWriter, embedder: Embedder, seed: int, ratios: Sequence[float],
    cold: tuple[float, float, int] = (0.0, 0.0, 2020),
) -> dict[str, object]:
    """Write every output file into ``folder``; returns summary counts for the manifest."""
    inter = read_atomic(source / f"{ML100K}.inter")
    if inter.frame.empty:
        raise InputError(f"{source / f'{ML100K}.inter'}: no interactions (the file holds a header only)")
    split_files, counts = _write_splits(folder, inter, seed, ratios, cold)
    for ext in ("item", "user"):
        # Side files travel along so `python -m dataset_prep intents` can prompt from this folder.
        if (source / f"{ML100K}.{ext}").is_file():
            side = read_atomic(source / f"{ML100K}.{ext}")
            write_atomic(folder / f"{ML100K}.{ext}", side.header, side.frame.to_numpy().tolist())

    # Every rating a text sees comes from the train file as written (what RecBole trains on);
    # the source table is used below only for the lists of ids that get a row.
    train = read_atomic(split_files["train"])
    train_ratings = _ratings(train)
    by_user: dict[str, list[Rating]] = defaultdict(list)
    by_item: dict[str, list[Rating]] = defaultdict(list)
    for rating in train_ratings:
        by_user[rating.user_id].append(rating)
        by_item[rating.item_id].append(rating)

    user_ids = sort_ids(inter.column("user_id"))
    item_ids = sort_ids(inter.column("item_id"))
    movies = _load_movies(source / f"{ML100K}.item", item_ids)
    viewers = _load_viewers(source / f"{ML100K}.user", user_ids)
    user_texts = writer.write_users([viewers[u] for u in user_ids], by_user, movies)
    item_texts = writer.write_items([movies[i] for i in item_ids], by_item)
    write_text_records(folder / f"{ML100K}.user.texts.jsonl", user_texts)
    write_text_records(folder / f"{ML100K}.item.texts.jsonl", item_texts)

    dim = _embed_and_write(folder, embedder, user_texts, item_texts)
    return {"interactions": counts, "users": len(user_ids), "items": len(item_ids), "embedding_dim": dim}


def _write_splits(
    folder: Path, inter: AtomicTable, seed: int, ratios: Sequence[float],
    cold: tuple[float, float, int] = (0.0, 0.0, 2020),
) -> tuple[dict[str, Path], dict[str, int]]:
    """Write ``ml-100k.{train,valid,test}.inter`` with the source header and raw source rows
    (and, for a cold split, ``ml-100k.cold.json``: the held-out ids)."""
    assignment = split_by_user(inter.column("user_id"), ratios, seed)
    if is_cold_split(*cold[:2]):
        held_out = ratios[1] + ratios[2]
        moved = cold_split(
            inter.column("user_id"), inter.column("item_id"), assignment, item_ratio=cold[0], user_ratio=cold[1],
            seed=cold[2], valid_share=ratios[1] / held_out if held_out else 0.5,
        )
        assignment = moved.assignment
        write_cold_ids(folder / f"{ML100K}.cold.json", moved, *cold)
    rows = inter.frame.to_numpy()
    paths, counts = {}, {}
    for code, name in enumerate(SPLIT_NAMES):
        path = folder / f"{ML100K}.{name}.inter"
        # Boolean masking keeps the source order inside each split.
        counts[name] = write_atomic(path, inter.header, rows[assignment == code].tolist())
        paths[name] = path
    return paths, counts


def _embed_and_write(
    folder: Path, embedder: Embedder, user_texts: list[TextRecord], item_texts: list[TextRecord]
) -> int:
    """Embed all profiles and intents in one call and write the two feature files."""
    texts = [r.profile for r in user_texts] + [r.intent for r in user_texts]
    texts += [r.profile for r in item_texts] + [r.intent for r in item_texts]
    logger.info("Embedding %d texts with %s.", len(texts), embedder.name)
    vectors = embed_texts(embedder, texts)
    n_users, n_items = len(user_texts), len(item_texts)
    user_profile, user_intent, item_profile, item_intent = np.split(vectors, np.cumsum([n_users, n_users, n_items]))
    write_feature_file(
        folder / f"{ML100K}.{USER_SUFFIX}", USER_SUFFIX, [r.id for r in user_texts], user_profile, user_intent
    )
    write_feature_file(
        folder / f"{ML100K}.{ITEM_SUFFIX}", ITEM_SUFFIX, [r.id for r in item_texts], item_profile, item_intent
    )
    return int(vectors.shape[1])


def _ratings(table: AtomicTable) -> list[Rating]:
    frame = table.frame
    return [
        Rating(user_id=u, item_id=i, rating=float(r), timestamp=float(t) if t else 0.0)
        for u, i, r, t in zip(frame["user_id"], frame["item_id"], frame["rating"], frame["timestamp"])
    ]


def _as_int(token: str) -> int | None:
    return int(token) if token.isdigit() else None


def _load_movies(path: Path, item_ids: Sequence[str]) -> dict[str, Movie]:
    """Movies for ``item_ids``; an id without metadata gets a placeholder title."""
    movies: dict[str, Movie] = {}
    if path.is_file():
        frame = read_atomic(path).frame
        for item_id, title, year, genres in zip(
            frame["item_id"], frame["movie_title"], frame["release_year"], frame["class"]
        ):
            known_title = tidy_title(title) if title.lower() not in UNKNOWN else _placeholder_title(item_id)
            genre_list = tuple(g for g in genres.split() if g.lower() not in UNKNOWN)
            movies[item_id] = Movie(item_id, known_title, _as_int(year), genre_list)
    return {i: movies.get(i, Movie(i, _placeholder_title(i), None, ())) for i in item_ids}


def _placeholder_title(item_id: str) -> str:
    return f"Untitled movie {item_id}"


def _load_viewers(path: Path, user_ids: Sequence[str]) -> dict[str, Viewer]:
    """Viewers for ``user_ids``; an id without demographics gets an anonymous viewer."""
    viewers: dict[str, Viewer] = {}
    if path.is_file():
        frame = read_atomic(path).frame
        for user_id, age, gender, occupation in zip(
            frame["user_id"], frame["age"], frame["gender"], frame["occupation"]
        ):
            viewers[user_id] = Viewer(user_id, _as_int(age), gender or None, occupation or None)
    return {u: viewers.get(u, Viewer(u, None, None, None)) for u in user_ids}
