"""A local Hugging Face causal LM as a :class:`~dataset_prep.llm.backend.ChatBackend`.

``HFChatBackend("path/to/model-folder")`` or ``HFChatBackend("path/to/model.gguf")``
(or a folder plus ``gguf_file=``). Nothing is loaded until the first
:meth:`~HFChatBackend.complete`; one request runs at a time (``max_concurrency = 1``),
since a second thread would only compete for the same cores or GPU.

The prompt is rendered with the tokenizer's own chat template. Two ways to start
the assistant's answer for it ("prefill"), which small models need to keep to JSON:

- the request's ``prefill`` (a prompt file's ``prefill:`` key) is used first;
- a last message with role ``assistant`` in the request is continued rather than
  answered (it is part of the messages, hence of ``prompt_sha``);
- ``json_prefill=True`` (a backend setting) starts the answer with
  ``{"<first output key>":`` for requests that name ``output_keys``, so the same
  prompts serve every backend.

Either way the returned text starts with the prefill, so it is the whole answer.
GGUF files are de-quantised to ``dtype`` on load (needs the ``gguf`` package):
install with ``pip install -e ".[hf]"``.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

from .backend import ChatAnswer, ChatRequest, FatalBackendError

INSTALL_HINT = 'pip install -e ".[hf]"  (transformers, gguf, accelerate)'


class HFChatBackend:
    """Chat with a local causal LM through ``transformers`` (greedy when ``temperature == 0``)."""

    name = "hf"
    max_concurrency = 1

    def __init__(
        self,
        model_path: str | Path,
        gguf_file: str | None = None,
        *,
        device: str | None = None,
        dtype: str = "auto",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        json_prefill: bool = False,
        stop_at_object_end: bool = True,
        seed: int = 0,
        model_id: str | None = None,
    ):
        path = Path(model_path).expanduser()
        if gguf_file is None and path.suffix == ".gguf":
            path, gguf_file = path.parent, path.name
        target = path / gguf_file if gguf_file else path
        if not target.exists():
            raise FatalBackendError(f"hf backend: model not found: {target}")
        self.folder, self.gguf_file = path, gguf_file
        # a stable name for the answer cache: no machine-specific absolute path
        self.model = model_id or gguf_file or path.name
        self.device = device or _auto_device()
        self.dtype = dtype if dtype != "auto" else ("float32" if self.device == "cpu" else "bfloat16")
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.repetition_penalty = float(repetition_penalty)
        self.json_prefill = bool(json_prefill)
        self.stop_at_object_end = bool(stop_at_object_end)
        self.seed = int(seed)
        self._lock = threading.Lock()
        self._tokenizer = None
        self._lm = None

    def settings(self) -> dict[str, Any]:
        """Everything that changes an answer except the device (CPU and GPU agree up to rounding)."""
        s = {
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "repetition_penalty": self.repetition_penalty,
            "json_prefill": self.json_prefill,
            "stop_at_object_end": self.stop_at_object_end,
        }
        if self.temperature > 0:
            s.update(top_p=self.top_p, seed=self.seed)
        return s

    def prefill(self, request: ChatRequest) -> str:
        """The text the answer is made to start with ('' for none)."""
        if request.prefill:
            return request.prefill
        if request.messages and request.messages[-1].get("role") == "assistant":
            return request.messages[-1]["content"]
        if self.json_prefill and request.output_keys:
            return "{" + json.dumps(request.output_keys[0]) + ":"
        return ""

    def render(self, request: ChatRequest) -> str:
        """The exact prompt text given to the model (chat template + prefill)."""
        tok = self._load()[0]
        messages = list(request.messages)
        start = self.prefill(request)
        if messages and messages[-1].get("role") == "assistant":
            messages = messages[:-1]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + start

    def complete(self, request: ChatRequest) -> ChatAnswer:
        tok, lm = self._load()
        import torch

        prompt = self.render(request)
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        n_prompt = enc["input_ids"].shape[1]
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        gen: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": pad}
        if self.stop_at_object_end:
            # Our answers are flat objects ending in a string: stop there instead of rambling to the cap.
            gen.update(stop_strings=['"}'], tokenizer=tok)
        if self.repetition_penalty != 1.0:
            gen["repetition_penalty"] = self.repetition_penalty
        if self.temperature > 0:
            gen.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self._lock, torch.inference_mode():
            if self.temperature > 0:
                torch.manual_seed(self.seed)
            out = lm.generate(**enc, **gen)
        new = out[0, n_prompt:]
        text = self.prefill(request) + tok.decode(new, skip_special_tokens=True)
        return ChatAnswer(text=text, prompt_tokens=int(n_prompt), completion_tokens=int(new.shape[0]))

    def _load(self):
        if self._lm is not None:
            return self._tokenizer, self._lm
        with self._lock:
            if self._lm is None:
                self._tokenizer, self._lm = self._load_now()
        return self._tokenizer, self._lm

    def _load_now(self):
        needed = ["transformers", "accelerate"] + (["gguf"] if self.gguf_file else [])
        missing = [m for m in needed if importlib.util.find_spec(m) is None]
        if missing:
            raise FatalBackendError(f"hf backend needs {', '.join(missing)}: {INSTALL_HINT}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kw = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            tok = AutoTokenizer.from_pretrained(self.folder, **kw)
            lm = AutoModelForCausalLM.from_pretrained(self.folder, dtype=getattr(torch, self.dtype), **kw)
        except (OSError, ValueError, ImportError) as exc:
            raise FatalBackendError(f"hf backend could not load {self.model} from {self.folder}: {exc}") from exc
        if not tok.chat_template:
            raise FatalBackendError(f"hf backend: {self.model} has no chat template")
        return tok, lm.to(self.device).eval()


def _auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
