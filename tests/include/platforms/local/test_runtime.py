"""Chat with a local model: the runtime behind the model store's ``invoke`` and ``nova-dpo chat``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nova_dpo.cli import main
from nova_dpo.platforms.local.model import TINY_RANDOM_MODEL
from nova_dpo.platforms.local.runtime import LocalRuntime, chat_messages, inference_settings
from nova_dpo.platforms.local.text_generator import InferenceSettings


def test_inference_settings_take_recipe_and_converse_names():
    assert inference_settings(
        maxTokens=7, topP=0.5, temperature=0.2, stopSequences=["\n\n"]
    ) == InferenceSettings(max_new_tokens=7, top_p=0.5, temperature=0.2, stop=("\n\n",))
    assert inference_settings(max_new_tokens=5, top_k=None) == InferenceSettings(max_new_tokens=5)
    with pytest.raises(ValueError, match="Unknown inference setting 'beams'"):
        inference_settings(beams=2)


def test_chat_messages_accept_converse_text_blocks():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"text": "Weather in "}, {"text": "Oslo?"}]},
    ]
    assert chat_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    with pytest.raises(ValueError, match="text blocks only"):
        chat_messages([{"role": "user", "content": [{"image": {}}]}])
    with pytest.raises(ValueError, match="role 'tool'"):
        chat_messages([{"role": "tool", "content": "x"}])
    with pytest.raises(ValueError, match="end with a user message"):
        chat_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])


def test_runtime_keeps_one_model_loaded(tiny_model_dir: Path):
    runtime = LocalRuntime(dtype="float32")
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]

    reply = runtime.chat(tiny_model_dir, messages, maxTokens=5)
    first = runtime.generator(tiny_model_dir)
    assert runtime.chat(tiny_model_dir, messages, max_new_tokens=5) == reply
    assert runtime.generator(tiny_model_dir) is first, "the same model is not loaded twice"
    assert isinstance(reply, str)

    assert runtime.generator(TINY_RANDOM_MODEL) is not first, "another model replaces the loaded one"
    runtime.unload()


def test_chat_command_one_shot_and_repl(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    calls: list[list[dict]] = []
    real_chat = LocalRuntime.chat

    def recording_chat(self, model_dir, messages, **inference):
        calls.append([dict(message) for message in messages])
        return real_chat(self, model_dir, messages, **inference)

    monkeypatch.setattr(LocalRuntime, "chat", recording_chat)
    argv = ["chat", "--model", TINY_RANDOM_MODEL, "--max-new-tokens", "3", "--dtype", "float32"]

    assert main([*argv, "--system", "Be brief.", "--prompt", "Hi"]) == 0
    assert calls[0] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert capsys.readouterr().out.endswith("\n")

    monkeypatch.setattr("sys.stdin", io.StringIO("Hi\n\nAnd then?\n"))
    assert main(argv) == 0
    assert len(calls) == 3, "one turn per non-empty line"
    first_reply = calls[2][1]
    assert first_reply["role"] == "assistant"
    assert calls[2] == [
        {"role": "user", "content": "Hi"},
        first_reply,
        {"role": "user", "content": "And then?"},
    ]
    assert "Ctrl-D" not in capsys.readouterr().err, "no banner when stdin is not a terminal"


def test_model_store_invokes_a_deployment_through_the_runtime(tmp_path: Path, tiny_model_dir: Path):
    from nova_dpo.platforms.local.store import LocalModelStore

    runtime = LocalRuntime(dtype="float32")
    store = LocalModelStore(tmp_path / "store", runtime=runtime)
    store.import_model("tiny-1", tiny_model_dir, family="tiny", base_model=TINY_RANDOM_MODEL)
    store.deploy("tiny-1", "tiny-endpoint")
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]

    def invoke(**inference_config) -> str:
        response = store.invoke(
            "tiny-endpoint", messages, system=[{"text": "Be brief."}], inference_config=inference_config
        )
        return response["output"]["message"]["content"][0]["text"]

    plain = invoke(maxTokens=6, temperature=0)
    assert "\n\n" in plain, "the tiny model answers with blank lines, which the stop sequence below cuts"
    assert invoke(maxTokens=6, stopSequences=["\n\n"]) == plain[: plain.index("\n\n")]
