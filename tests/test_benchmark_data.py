"""The benchmarks' stand-in vectors and synthetic graphs (benchmarks/standin.py, bench_data.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_data import (  # noqa: E402
    STANDIN_PRELOAD,
    binary_matrix,
    patch_standin_weights,
    prepare_synthetic,
    synth_name,
    synthetic_graph,
    synthetic_settings,
)
from standin import format_rows, standin_vectors, write_standin_features  # noqa: E402

from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX  # noqa: E402


def test_format_rows_round_trips_within_the_last_decimal():
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((5, 40)) / 7).astype(np.float32)
    values[0, :5] = [0.0, -0.0, -1e-9, 1.0, -1.0]
    rows = format_rows(values)
    back = np.array([[float(v) for v in row.decode().split(" ")] for row in rows])
    assert np.abs(back - values).max() <= 5.1e-8
    assert rows[0].startswith(b"0.0000000 0.0000000 0.0000000 1.0000000 -1.0000000 ")
    assert all(b"+" not in row and b"  " not in row for row in rows)


def test_standin_vectors_are_unit_deterministic_and_never_zero():
    train = binary_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 3]), (3, 5))  # items 2 and 4 unseen
    items = standin_vectors(train, "item", 16, 0)
    assert items.shape == (5, 16) and items.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(items, standin_vectors(train, "item", 16, 0))
    assert not np.allclose(items, standin_vectors(train, "item", 16, 1))
    users = standin_vectors(train, "user", 16, 0)
    # a user's vector depends only on its items: users 0 and 1 share item 1 and differ in item 0
    assert users.shape == (3, 16) and not np.allclose(users[0], users[1])


def test_synthetic_graph_is_deterministic_and_splits_one_valid_and_test_per_user():
    graph = synthetic_graph(300)
    again = synthetic_graph(300)
    for split in graph:
        for a, b in zip(graph[split], again[split]):
            np.testing.assert_array_equal(a, b)
    for split in ("valid", "test"):
        assert sorted(graph[split][0].tolist()) == list(range(300))
    pairs = np.concatenate([u * 150 + i for u, i in graph.values()])
    assert len(np.unique(pairs)) == len(pairs)  # no repeated (user, item)
    assert np.bincount(graph["train"][0], minlength=300).min() >= 1


def test_standin_files_load_as_the_patched_weights(tmp_path):
    """The file path (speed's amazon-book) and the patch path (the scaling series)
    give the model the same rows for the same ids."""
    from recbole_irllrec.config import Config
    from recbole_irllrec.quick_start import create_dataset

    n = 60
    folder = prepare_synthetic(tmp_path, n)
    name = synth_name(n)
    graph = synthetic_graph(n)
    train = binary_matrix(*graph["train"], (n, n // 2))
    users = np.unique(np.concatenate([u for u, _ in graph.values()]))
    items = np.unique(np.concatenate([i for _, i in graph.values()]))
    info = write_standin_features(folder, name, train, users, items)
    assert not info["reused"] and write_standin_features(folder, name, train, users, items)["reused"]

    base = {**synthetic_settings(tmp_path), "gpu_id": "", "checkpoint_dir": str(tmp_path / "saved")}
    text = {
        "load_col": {"inter": ["user_id", "item_id"],
                     **{s: [c for pair in FILE_LAYOUT[s] for c in pair] for s in (USER_SUFFIX, ITEM_SUFFIX)}},
        "additional_feat_suffix": [USER_SUFFIX, ITEM_SUFFIX],
        "alias_of_user_id": [FILE_LAYOUT[USER_SUFFIX][0][0], FILE_LAYOUT[USER_SUFFIX][1][0]],
        "alias_of_item_id": [FILE_LAYOUT[ITEM_SUFFIX][0][0], FILE_LAYOUT[ITEM_SUFFIX][1][0]],
        "preload_weight": dict(STANDIN_PRELOAD),
    }
    from_files = create_dataset(Config(model="IRLLRec", dataset=name, config_dict={**base, **text}))
    config = Config(model="IRLLRec", dataset=name, config_dict=base)
    patched = create_dataset(config)
    patch_standin_weights(config, patched, folder)
    for field in STANDIN_PRELOAD:
        side = "user_id" if field.startswith("u") else "item_id"
        a, b = from_files.get_preload_weight(field), patched.get_preload_weight(field)
        # internal ids may differ between the two datasets: compare by raw token
        order_a = {tok: k for k, tok in enumerate(from_files.field2id_token[side])}
        rows = [order_a[tok] for tok in patched.field2id_token[side][1:]]
        np.testing.assert_allclose(a[rows], b[1:], atol=1e-7)
        assert not b[0].any()
