"""Why a user gets their recommendations: intent text, intent prototypes, top-k items.

The top-k items are exactly what RecBole ranks at test time: the model's
``full_sort_predict`` scores with the padding item and the user's history
masked as the test loader masks it (training items, plus validation items
unless ``test_mask_valid_items`` is False). A user without test interactions
gets their training items masked.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from recbole.data.interaction import Interaction

from recbole_irllrec.analysis.texts import item_titles, load_texts


class UnknownUserError(KeyError):
    """The raw user id is not in the checkpoint's dataset."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass
class Prototype:
    """One intent prototype of the user: its column in ``P_U``, the user's softmax
    weight on it, and the items nearest to it (largest ``e_i^(0) . p``)."""

    index: int
    weight: float
    near_items: list[str]


@dataclass
class RecommendedItem:
    rank: int
    id: str
    title: str
    score: float
    intent: str


@dataclass
class Explanation:
    user: str
    internal_id: int
    model: str
    checkpoint: str
    intent: str
    profile: str
    prototypes: list[Prototype] = field(default_factory=list)
    prototype_note: str = ""
    prototype_count: int = 0  # K; a weight near 1/K means no preference
    items: list[RecommendedItem] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def to_text(self) -> str:
        lines = [
            f"user {self.user} (internal id {self.internal_id}), {self.model} checkpoint {self.checkpoint}",
            f"  intent : {self.intent}",
            f"  profile: {self.profile}",
        ]
        if self.prototypes:
            lines.append(
                f"top {len(self.prototypes)} of {self.prototype_count} intent prototypes (softmax weight of the "
                f"user's E^(0) on P_U; uniform would be {1 / self.prototype_count:.4f}):"
            )
            for p in self.prototypes:
                lines.append(f"  #{p.index:<4d} {p.weight:.4f}  nearest items: {', '.join(p.near_items)}")
        else:
            lines.append(f"intent prototypes: {self.prototype_note}")
        lines.append(f"top {len(self.items)} recommended items:")
        for item in self.items:
            title = f" {item.title}" if item.title else ""
            lines.append(f"  {item.rank:>2d}. item {item.id}{title}  score {item.score:.4f}")
            lines.append(f"      intent: {item.intent}")
        return "\n".join(lines)


def internal_user_id(dataset, raw_user: str, checkpoint: str = "") -> int:
    """Internal id of ``raw_user``; :class:`UnknownUserError` names the id and the checkpoint."""
    try:
        uid = int(dataset.token2id(dataset.uid_field, str(raw_user)))
    except ValueError:
        uid = 0
    if uid <= 0:  # 0 is RecBole's padding id ("[PAD]")
        examples = ", ".join(str(t) for t in dataset.id2token(dataset.uid_field, np.arange(1, min(4, dataset.user_num))))
        raise UnknownUserError(
            f"user id {raw_user!r} is not in the dataset of checkpoint {checkpoint or '(given model)'} "
            f"({dataset.user_num - 1} users, e.g. {examples})"
        )
    return uid


def masked_items(uid: int, train_data, test_data) -> torch.Tensor:
    """The items RecBole's test ranking masks for ``uid`` (see the module doc)."""
    history = getattr(test_data, "uid2history_item", None)
    if history is not None and history[uid] is not None:
        return history[uid]
    train = train_data._dataset
    users = train.inter_feat[train.uid_field]
    return torch.unique(train.inter_feat[train.iid_field][users == uid])


@torch.no_grad()
def ranked_items(model, dataset, uid: int, masked: torch.Tensor, topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores, item ids)`` of the user's top-k by ``full_sort_predict``, masked items excluded."""
    model.eval()
    interaction = Interaction({dataset.uid_field: torch.tensor([uid])}).to(model.device)
    scores = model.full_sort_predict(interaction).view(-1).clone()
    scores[0] = -torch.inf  # padding item
    scores[masked.to(scores.device)] = -torch.inf
    topk = min(topk, int(torch.isfinite(scores).sum()))
    values, items = torch.topk(scores, topk)
    return values.cpu(), items.cpu()


def prototypes_of(model) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The ``(P_U, P_I)`` the model's intent alignment uses (see
    ``GraphTextRecommender.intent_prototypes``); None for models without intents."""
    method = getattr(model, "intent_prototypes", None)
    return method() if method is not None else None


@torch.no_grad()
def top_prototypes(
    model, dataset, uid: int, user_p: torch.Tensor, n: int, n_items: int = 3, titles: dict[str, str] | None = None
) -> list[Prototype]:
    """The user's ``n`` heaviest prototypes among ``user_p`` ([d, K]): ``softmax(e_u^(0) P_U)``
    as the intent graph weighs layer 0, each with the ``n_items`` items nearest to it."""
    ego = model.backbone.ego_embeddings()
    user_e, item_e = ego[: model.n_users], ego[model.n_users :]
    weights = torch.softmax(user_e[uid] @ user_p, dim=0)
    values, columns = torch.topk(weights, min(n, weights.numel()))
    # users and items share the embedding space: a prototype is a direction there
    closeness = item_e[1:] @ user_p[:, columns]  # [n_items - 1, n], padding row skipped
    nearest = torch.topk(closeness, min(n_items, closeness.shape[0]), dim=0).indices + 1
    result = []
    for k, (column, weight) in enumerate(zip(columns.tolist(), values.tolist())):
        tokens = dataset.id2token(dataset.iid_field, nearest[:, k].cpu().numpy())
        names = [f"{t} {titles[str(t)]}" if titles and str(t) in titles else str(t) for t in tokens]
        result.append(Prototype(column, float(weight), names))
    return result


def explain_user(
    config, model, dataset, train_data, test_data, raw_user: str, topk: int = 10, n_prototypes: int = 5,
    checkpoint: str = "",
) -> Explanation:
    """Explain ``raw_user``'s recommendations from a loaded checkpoint."""
    uid = internal_user_id(dataset, raw_user, checkpoint)
    user_texts, item_texts = load_texts(config, "user"), load_texts(config, "item")
    scores, items = ranked_items(model, dataset, uid, masked_items(uid, train_data, test_data), topk)
    tokens = dataset.id2token(dataset.iid_field, items.numpy())
    titles = item_titles(config)
    explanation = Explanation(
        user=str(raw_user),
        internal_id=uid,
        model=config["model"],
        checkpoint=checkpoint,
        intent=user_texts.get(raw_user, "intent"),
        profile=user_texts.get(raw_user, "profile"),
        items=[
            RecommendedItem(
                rank + 1, str(token), titles.get(str(token), ""), float(score), item_texts.get(str(token), "intent")
            )
            for rank, (token, score) in enumerate(zip(tokens, scores.tolist()))
        ],
    )
    prototypes = prototypes_of(model)
    if prototypes is not None:
        user_p = prototypes[0]
        explanation.prototypes = top_prototypes(model, dataset, uid, user_p, n_prototypes, titles=titles)
        explanation.prototype_count = int(user_p.shape[1])
    else:
        explanation.prototype_note = f"{config['model']} has no intent prototypes (no PA term, no native intents)"
    return explanation


def run_explain(model_file: str, raw_user: str, topk: int = 10, n_prototypes: int = 5) -> Explanation:
    """Load ``model_file`` and explain ``raw_user``."""
    from recbole_irllrec.quick_start import load_data_and_model

    config, model, dataset, train_data, _, test_data = load_data_and_model(model_file)
    return explain_user(config, model, dataset, train_data, test_data, raw_user, topk, n_prototypes, model_file)
