"""Sparsity groups, explanations and embedding plots of a trained checkpoint."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.text import Text

from conftest import TINY, model_config_batch, train_tiny_irllrec, write_tiny_dataset
from recbole_irllrec.__main__ import main
from recbole_irllrec.analysis.embedding_plot import embedding_picture
from recbole_irllrec.analysis.explain import UnknownUserError, prototypes_of, run_explain
from recbole_irllrec.analysis.sparsity import evaluate_per_user, make_groups, run_sparsity, training_counts
from recbole_irllrec.quick_start import load_data_and_model
from recbole_irllrec.utils import get_trainer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _uneven_training(folder: Path) -> None:
    """Keep 2..7 training rows of user u<k> (k % 6 + 2), so the users' counts
    differ; the others move to validation (every item keeps an interaction)."""
    train, valid = folder / f"{TINY}.train.inter", folder / f"{TINY}.valid.inter"
    header, *rows = train.read_text().splitlines(keepends=True)
    kept, moved, seen = [], [], {}
    for row in rows:
        user = row.split("\t")[0]
        seen[user] = seen.get(user, 0) + 1
        (kept if seen[user] <= int(user[1:]) % 6 + 2 else moved).append(row)
    train.write_text(header + "".join(kept))
    valid.write_text(valid.read_text() + "".join(moved))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("analysis")


@pytest.fixture(scope="module")
def checkpoint(workdir) -> str:
    """One trained tiny IRLLRec checkpoint (1 epoch) shared by the module's tests."""
    root = workdir
    folder = write_tiny_dataset(root / "data")
    _uneven_training(folder)
    (folder / f"{TINY}.user.texts.jsonl").write_text(
        json.dumps({"id": "u1", "profile": "a tiny profile", "intent": "likes tiny things", "evidence": []}) + "\n"
    )
    return train_tiny_irllrec(root, intent_num=4)


@pytest.fixture(scope="module")
def loaded(checkpoint, workdir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["pytest"])
        patch.chdir(workdir)  # RecBole's log/ stays out of the checkout
        return load_data_and_model(checkpoint)


def test_groups_partition_the_evaluated_users(loaded):
    config, model, _, train_data, _, test_data = loaded
    evaluation = evaluate_per_user(config, model, train_data, test_data)
    users = np.unique(evaluation.users)
    assert len(users) == len(evaluation.users)  # one row per user
    assert set(users.tolist()) == set(test_data.uid_list.tolist())
    counts = training_counts(train_data)
    for edges in (None, [3, 5], [100]):
        groups = make_groups(users, counts, edges)
        together = np.concatenate([g.users for g in groups])
        assert sorted(together.tolist()) == sorted(users.tolist())  # every user exactly once
        assert sum(len(g.users) for g in groups) == len(users)
        for group in groups:
            c = counts[group.users]
            assert (c >= group.low).all() and (group.high is None or (c < group.high).all())
    quartiles = make_groups(users, counts)
    assert len(quartiles) > 1 and all(len(g.users) for g in quartiles)
    assert [g.label for g in make_groups(users, counts, [3, 5])] == ["[0, 3)", "[3, 5)", "[5, inf)"]
    with pytest.raises(ValueError, match="strictly increasing"):
        make_groups(users, counts, [5, 3])


def test_group_metrics_weighted_by_size_give_recbole_overall(loaded):
    config, model, _, train_data, _, test_data = loaded
    evaluation = evaluate_per_user(config, model, train_data, test_data)
    plain = get_trainer(config["MODEL_TYPE"], config["model"])(config, model).evaluate(test_data, load_best_model=False)
    assert dict(evaluation.overall) == dict(plain)
    groups = make_groups(np.unique(evaluation.users), training_counts(train_data))
    per_group = [evaluation.evaluate(g.users) for g in groups]
    n = sum(len(g.users) for g in groups)
    for metric, overall in plain.items():
        weighted = sum(len(g.users) * r[metric] for g, r in zip(groups, per_group)) / n
        assert weighted == pytest.approx(overall, abs=2e-4)  # RecBole rounds to 4 decimals


def test_explain_items_are_what_recbole_ranks(loaded, checkpoint):
    config, model, dataset, _, _, test_data = loaded
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.tot_item_num = dataset.item_num
    model.eval()
    with torch.no_grad():
        batch = next(iter(test_data))
        interaction, scores, _, _ = trainer._full_sort_batch_eval(batch)  # RecBole's masked test scores
    for row in (0, 5):
        uid = int(interaction[config["USER_ID_FIELD"]][row])
        raw = dataset.id2token(config["USER_ID_FIELD"], uid)
        explanation = run_explain(checkpoint, raw, topk=5, n_prototypes=2)
        values, items = torch.topk(scores[row], 5)
        assert [i.id for i in explanation.items] == list(dataset.id2token(config["ITEM_ID_FIELD"], items.numpy()))
        assert [i.score for i in explanation.items] == pytest.approx(values.tolist(), abs=1e-5)
        assert len(explanation.prototypes) == 2
        assert sum(p.weight for p in explanation.prototypes) <= 1.0


def test_explain_texts_json_and_prototypes(checkpoint):
    explanation = run_explain(checkpoint, "u1", topk=3, n_prototypes=4)
    assert explanation.intent == "likes tiny things"
    assert explanation.profile == "a tiny profile"
    assert explanation.items[0].intent.startswith("(no text file ") and "item.texts.jsonl" in explanation.items[0].intent
    data = json.loads(explanation.to_json())
    assert data["user"] == "u1" and len(data["items"]) == 3 and data["prototype_count"] == 4
    weights = [p["weight"] for p in data["prototypes"]]
    assert weights == sorted(weights, reverse=True) and len({p["index"] for p in data["prototypes"]}) == 4
    assert "intent prototypes" in explanation.to_text()


def test_unknown_user_names_id_and_checkpoint(checkpoint, capsys):
    with pytest.raises(UnknownUserError) as error:
        run_explain(checkpoint, "nobody")
    assert "'nobody'" in str(error.value) and checkpoint in str(error.value)
    assert main(["explain", "--model_file", checkpoint, "--user", "nobody"]) == 2
    assert "'nobody'" in capsys.readouterr().err


def test_cli_writes_table_text_and_pngs(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sparsity", "--model_file", checkpoint, checkpoint, "--edges", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[0, 4)" in printed and "[4, inf)" in printed and "all" in printed
    header = (out / "sparsity.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["group", "low", "high", "users"]
    assert (out / "sparsity.csv").read_text().splitlines()[1].startswith('"[0, 4)",0,4,')
    stem = Path(checkpoint).stem
    assert f"IRLLRec({stem})#1:ndcg@20" in header and f"IRLLRec({stem})#2:ndcg@20" in header
    assert (out / "sparsity.png").read_bytes()[:8] == PNG_MAGIC

    assert main(["explain", "--model_file", checkpoint, "--user", "u2", "--topk", "4", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 4

    png = tmp_path / "emb.png"
    assert main(["embplot", "--model_file", checkpoint, "--sample", "40", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000
    assert not list(tmp_path.glob(".emb.png.*"))  # no temporary left behind


def test_run_sparsity_table_has_a_row_per_group_and_all(checkpoint, tmp_path):
    table = run_sparsity([checkpoint], edges=[3, 6], out_dir=str(tmp_path), metrics=["Recall@10"])
    assert list(table["group"]) == ["[0, 3)", "[3, 6)", "[6, inf)", "all"]
    assert table["users"].iloc[:-1].sum() == table["users"].iloc[-1]
    assert (tmp_path / "sparsity.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="mrr@10"):
        run_sparsity([checkpoint], out_dir=str(tmp_path), metrics=["mrr@10"])


def test_embedding_picture_kinds(loaded, tiny_data, tmp_path):
    _, model, *_ = loaded
    picture = embedding_picture(model, "tsne", sample=30)
    assert list(picture.points) == ["interaction", "profile", "intent"] and not picture.notes
    assert all(p.shape == (30, 2) for p in picture.points.values())
    _, plain, _ = model_config_batch(tiny_data, tmp_path, "GraphCF")
    picture = embedding_picture(plain, "pca", sample=0)
    assert list(picture.points) == ["interaction"] and len(picture.notes) == 2
    assert len(picture.is_user) == plain.n_users + plain.n_items - 2  # padding rows left out
    with pytest.raises(ValueError, match="method"):
        embedding_picture(plain, "umap")


def test_reloading_and_the_commands_leave_no_log_files(checkpoint, tmp_path, capsys):
    """RecBole's init_logger opens a file in log/ (empty at the analysis commands' level);
    looking at a checkpoint must not leave one behind, nor TensorBoard event files."""
    load_data_and_model(checkpoint)
    assert main(["explain", "--model_file", checkpoint, "--user", "u2"]) == 0
    assert main(["sparsity", "--model_file", checkpoint, "--out", str(tmp_path / "s")]) == 0
    assert main(["embplot", "--model_file", checkpoint, "--sample", "20", "--out", str(tmp_path / "e.png")]) == 0
    assert not (tmp_path / "log").exists() and not (tmp_path / "log_tensorboard").exists()


def test_a_missing_checkpoint_is_no_such_file(checkpoint, tmp_path, capsys):
    missing = str(tmp_path / "saved" / "IRLLRec-missing.pth")
    for argv in (["sparsity", "--model_file", checkpoint, missing], ["embplot", "--model_file", missing],
                 ["explain", "--model_file", missing, "--user", "u1"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.startswith(f"error: no such file: {missing}\n"), argv


def _extent(artist, renderer):
    return artist.get_window_extent(renderer)


def test_embedding_panels_keep_every_point_inside_with_a_margin(loaded):
    from recbole_irllrec.analysis.embedding_plot import draw_picture

    _, model, *_ = loaded
    picture = embedding_picture(model, "pca", sample=0)
    figure = draw_picture(picture, "IRLLRec on tiny")
    for ax, kind in zip(figure.axes, picture.points):
        xy = picture.points[kind]
        for limits, values in ((ax.get_xlim(), xy[:, 0]), (ax.get_ylim(), xy[:, 1])):
            margin = 0.04 * (values.max() - values.min())
            assert limits[0] < values.min() - margin and values.max() + margin < limits[1], kind


def test_the_missing_kinds_note_fits_the_figure_below_the_titles(tiny_data, tmp_path):
    from recbole_irllrec.analysis.embedding_plot import draw_picture

    _, plain, _ = model_config_batch(tiny_data, tmp_path, "GraphCF")
    picture = embedding_picture(plain, "pca", sample=0)
    figure = draw_picture(picture, "GraphCF on tiny: PCA, 68 users+items")
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # the layout runs at draw time
    note = next(t for t in figure.findobj(Text) if "no profile embeddings" in t.get_text())
    assert "no intent embeddings" in note.get_text()
    box, frame = _extent(note, renderer), figure.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    ax = figure.axes[0]
    for other in (figure._suptitle, ax.title, ax):
        assert not box.overlaps(_extent(other, renderer)), other
    title = _extent(figure._suptitle, renderer)
    assert frame.x0 <= title.x0 and title.x1 <= frame.x1 and not title.overlaps(_extent(ax.title, renderer))


def test_sparsity_lines_one_colour_per_model_one_style_per_metric(checkpoint):
    from recbole_irllrec.analysis.sparsity import draw_groups, plot_columns

    table = run_sparsity([checkpoint, checkpoint], edges=[4])
    columns = plot_columns(table, ["recall@20", "ndcg@20"])
    figure = draw_groups(table, columns)
    lines = {line.get_label(): line for line in figure.axes[1].get_lines()}
    assert set(lines) == set(columns) and len(columns) == 4
    models = sorted({c.rpartition(":")[0] for c in columns})
    for column, line in lines.items():
        model, _, metric = column.rpartition(":")
        same_model = [lines[c] for c in columns if c.rpartition(":")[0] == model]
        same_metric = [lines[c] for c in columns if c.rpartition(":")[2] == metric]
        assert all(other.get_color() == line.get_color() for other in same_model)
        assert all((o.get_linestyle(), o.get_marker()) == (line.get_linestyle(), line.get_marker()) for o in same_metric)
    assert len({lines[c].get_color() for c in columns}) == len(models) == 2
    assert len({(lines[c].get_linestyle(), lines[c].get_marker()) for c in columns}) == 2


def test_native_prototypes_win(tiny_data, tmp_path):
    _, model, _ = model_config_batch(tiny_data, tmp_path, "IRLLRec", backbone="DCCF", dccf_intent_num=3)
    user_p, item_p = prototypes_of(model)
    assert user_p is model.backbone.intent_prototypes()[0] and user_p.shape[1] == 3


def test_a_broken_texts_file_names_file_and_line(tmp_path):
    from recbole_irllrec.analysis.texts import load_texts

    config = {"data_path": str(tmp_path), "dataset": TINY}
    (tmp_path / f"{TINY}.user.texts.jsonl").write_text('{"id": "u1", "intent": "x"}\n{"intent": "no id"}\n')
    with pytest.raises(ValueError, match=r"user\.texts\.jsonl, line 2"):
        load_texts(config, "user")
