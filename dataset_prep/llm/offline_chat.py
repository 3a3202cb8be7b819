"""A deterministic backend that needs no model: template answers built from the prompt's input.

It answers in the same JSON shapes the prompts ask for, so the whole
pipeline (cache, parsing, outputs, embeddings) runs offline and
reproducibly: for tests, CI, and a first pass before paying for an LLM.
The texts are plain but faithful to the input: attributes become key
attributes, training ratings decide what a user likes and dislikes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..writers.english import join_words
from .backend import ChatAnswer, ChatRequest

LIKED = 4.0
DISLIKED = 2.0
MAX_ATTRIBUTES = 4
MAX_EXAMPLES = 2
NAME_FIELDS = ("title", "name", "movie_title", "item_name", "product_name")


class OfflineChatBackend:
    """Template writer behind the chat-backend interface; bump ``model`` when its output changes."""

    name = "offline"
    model = "template-2"
    max_concurrency = 1

    def settings(self) -> dict[str, Any]:
        return {}

    def complete(self, request: ChatRequest) -> ChatAnswer:
        writer = {
            "item_profile": _item_profile,
            "item_intent": _item_intent,
            "user_profile": _user_profile,
            "user_intent": _user_intent,
        }[request.task]
        return ChatAnswer(json.dumps(writer(request.payload), ensure_ascii=False))


def _item_name(item: dict[str, Any], fallback: str) -> str:
    for field in NAME_FIELDS:
        if item.get(field):
            return str(item[field])
    return fallback


def _attributes(item: dict[str, Any]) -> list[str]:
    """Tags (list-valued fields such as genres) first, then other values, without the name."""
    tags = [str(v) for value in item.values() if isinstance(value, list) for v in value]
    others = [str(v) for f, v in item.items() if f not in NAME_FIELDS and not isinstance(v, list)]
    return (tags or others)[:MAX_ATTRIBUTES]


# what _item_profile writes: the name, its attributes in parentheses, then _reception's "It has ..."
_OWN_SUMMARY = re.compile(r"^(?P<name>.+?)(?: \([^()]*\))?\. It has ")


def _reception(stats: dict[str, Any]) -> str:
    count = stats.get("count", 0)
    if not count:
        return "It has no training interactions."
    mean = stats.get("mean_rating")
    rated = f", rated {mean:.1f} on average" if mean is not None else ""
    return f"It has {count} training interaction{'s' if count != 1 else ''}{rated}."


def _item_profile(payload: dict[str, Any]) -> dict[str, Any]:
    item = payload.get("item", {})
    name = _item_name(item, f"Item {payload.get('id', '')}".strip())
    attrs = _attributes(item)
    kind = f" ({join_words(attrs)})" if attrs else ""
    summary = f"{name}{kind}. {_reception(payload.get('training_interactions', {}))}"
    audience = f"users interested in {join_words(attrs)}" if attrs else "users open to new items"
    return {"summarization": f"{summary} Suits {audience}.", "reasoning": "Derived from the listed attributes."}


def _item_intent(payload: dict[str, Any]) -> dict[str, Any]:
    item = payload.get("item", {})
    attrs = _attributes(item)
    mean = payload.get("training_interactions", {}).get("mean_rating")
    attracts = [f"look for {join_words(attrs)}"] if attrs else ["are open to new items"]
    repels = [f"avoid {join_words(attrs, 'or')}"] if attrs else ["want a clear category"]
    if mean is not None and mean >= LIKED:
        attracts.append("trust highly rated picks")
    elif mean is not None and mean < 2.5:
        repels.append("go by ratings")
    intent = f"Attracts users who {join_words(attracts)}; unattractive to users who {join_words(repels, 'or')}."
    return {
        "key_attributes": attrs or [_item_name(item, "unnamed item")],
        "offers": join_words(attrs) or "an unlabelled item",
        "lacks": "anything outside its listed attributes",
        "intent": intent,
    }


def _split_by_rating(interactions: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    liked, disliked = [], []
    for row in interactions:
        rating = row.get("rating")
        label = _short(str(row.get("item", "")))
        if rating is None or rating >= LIKED:
            liked.append(label)  # no rating: an interaction is taken as interest
        elif rating <= DISLIKED:
            disliked.append(label)
    return liked[:MAX_EXAMPLES], disliked[:MAX_EXAMPLES]


def _short(label: str) -> str:
    """The item's name, quoted, from how a user prompt refers to it: this backend's own
    summary (``<name> (<attributes>). It has ...``) or else its attributes joined by
    ``'; '``. Never cut at a period: names have them ("Mrs. Doubtfire", "L.A. Confidential")."""
    own = _OWN_SUMMARY.match(label)
    head = own.group("name") if own else label.split("; ", 1)[0]
    return f'"{head.strip()}"'


def _user_profile(payload: dict[str, Any]) -> dict[str, Any]:
    interactions = payload.get("interactions", [])
    liked, _ = _split_by_rating(interactions)
    about = join_words([f"{k} {v}" for k, v in payload.get("user", {}).items()][:MAX_ATTRIBUTES])
    who = f"A user ({about})" if about else "A user"
    count = payload.get("interaction_count", len(interactions))
    seen = f"with {count} training interaction{'s' if count != 1 else ''}"
    enjoys = f", likely to enjoy items like {join_words(liked)}" if liked else ""
    return {"summarization": f"{who} {seen}{enjoys}.", "reasoning": "Derived from the sampled interactions."}


def _user_intent(payload: dict[str, Any]) -> dict[str, Any]:
    liked, disliked = _split_by_rating(payload.get("interactions", []))
    likes = f"Likes items such as {join_words(liked)}" if liked else "Likes few of the items seen"
    dislikes = f"dislikes items such as {join_words(disliked)}" if disliked else "dislikes little so far"
    return {
        "key_attributes": liked or ["no clear favourites"],
        "positive_preferences": join_words(liked) or "none recorded",
        "negative_preferences": join_words(disliked) or "none recorded",
        "intent": f"{likes}; {dislikes}.",
    }
