"""Continuous batching (decoding window, prefix-shared prefill) against transformers' own generation."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import DynamicCache, MistralConfig, MistralForCausalLM

from nova_dpo.platforms.local import decoding
from nova_dpo.platforms.local.decoding import (
    DecodeRequest,
    DecodingWindow,
    PrefixSharingPrefill,
    TokenChooser,
)
from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

SYSTEM = "You may call one or more functions to assist with the user query. <tools>get_weather(city)</tools>"
QUESTIONS = (
    "Weather in Paris?",
    "Weather in Oslo, please, and be brief about it.",
    "Hi",
    "What is the capital of Peru? Answer in one word.",
    "Tell me a long story about a dragon who learns to bake bread in a small village.",
    "Oslo?",
    "Weather in Paris tomorrow?",
)
# Different lengths end rows at different steps, so rows leave and the next prompts take their places; the
# longest outlive the window's slack, so it moves its live columns.
MAX_NEW_TOKENS = (70, 3, 25, 1, 90, 12, 55)


def chats(system: str = SYSTEM) -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": system}, {"role": "user", "content": q}] for q in QUESTIONS]


def generate_alone(generator: TextGenerator, prompt: list[int], max_new_tokens: int) -> list[int]:
    """transformers' ``generate`` on one prompt (no padding): the reference."""
    ids = torch.tensor([prompt])
    config = InferenceSettings(max_new_tokens=max_new_tokens).generation_config(
        max_new_tokens, generator.pad_token_id, generator.eos_token_ids
    )
    with torch.inference_mode():
        output = generator.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    return output[0, len(prompt) :].tolist()


@pytest.mark.slow
def test_continuous_batching_equals_generate_one_prompt_at_a_time(
    generator: TextGenerator, caplog: pytest.LogCaptureFixture
):
    prompts = [generator.prompt_ids(chat) for chat in chats()]
    requests = [DecodeRequest(p, n) for p, n in zip(prompts, MAX_NEW_TOKENS, strict=True)]
    chooser = TokenChooser(0.0, -1, 1.0, seed=0, device="cpu")
    with caplog.at_level(logging.INFO, logger=decoding.__name__), torch.inference_mode():
        rows = decoding.decode(generator.model, requests, chooser, generator.eos_token_ids, batch_size=3)

    expected = [generate_alone(generator, p, n) for p, n in zip(prompts, MAX_NEW_TOKENS, strict=True)]
    assert [row.tokens for row in rows] == expected
    assert [len(row.tokens) for row in rows] == list(MAX_NEW_TOKENS), "the scaled model never says EOS"
    assert {row.ended_by for row in rows} == {"length"}
    assert "reused from a prefix shared with the prompt before" in caplog.text
    moved = int(caplog.text.split("the decoding window moved ")[1].split(" ")[0])
    assert moved >= 2, caplog.text  # once to place the first prompt, then for lack of room


def test_generator_decoders_agree_and_keep_input_order(generator: TextGenerator):
    settings = InferenceSettings(max_new_tokens=20)
    continuous = generator.generate(chats(), settings, batch_size=2, decoder="continuous")
    padded = [generator.generate([chat], settings, batch_size=1, decoder="padded")[0] for chat in chats()]

    assert continuous == padded
    assert len({reply.text for reply in continuous}) == len(QUESTIONS), (
        "replies must differ to prove the order"
    )


def test_stop_strings_end_a_row_in_the_continuous_decoder(generator: TextGenerator):
    [free] = generator.generate(chats()[:1], InferenceSettings(max_new_tokens=30))
    stop = free.text[8:10]
    assert stop
    assert free.text.find(stop) >= 1
    settings = InferenceSettings(max_new_tokens=30, stop=(stop,))

    [stopped] = generator.generate(chats()[:1], settings, decoder="continuous")
    [reference] = generator.generate(chats()[:1], settings, decoder="padded")

    assert stopped.text == free.text[: free.text.find(stop)]
    assert stopped.finished
    assert stopped.new_tokens < free.new_tokens
    assert stopped == reference


def test_prefix_sharing_prefill_equals_a_full_prefill(generator: TextGenerator):
    first, second = (generator.prompt_ids(chat) for chat in chats()[:2])
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    assert shared > 10

    prefill = PrefixSharingPrefill(generator.model)
    with torch.inference_mode():
        prefill(first)
        logits, cache = prefill(second)
        alone_logits, alone_cache = PrefixSharingPrefill(generator.model)(second)

    assert prefill.reused_tokens == shared
    assert prefill.prompt_tokens == len(first) + len(second)
    torch.testing.assert_close(logits, alone_logits, atol=1e-4, rtol=1e-4)
    for layer, alone in zip(cache.layers, alone_cache.layers, strict=True):
        assert (
            layer.keys.shape == alone.keys.shape == (1, layer.keys.shape[1], len(second), layer.keys.shape[3])
        )
        torch.testing.assert_close(layer.keys, alone.keys, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(layer.values, alone.values, atol=1e-4, rtol=1e-4)


def one_row_cache(length: int, fill: float, layers: int = 2, heads: int = 2, dim: int = 4) -> DynamicCache:
    """A prefilled cache whose key at column c is ``fill + c`` (values: the negative), to recognise columns."""
    cache = DynamicCache()
    columns = torch.arange(length, dtype=torch.float32)[None, None, :, None]
    for index in range(layers):
        keys = (fill + columns).expand(1, heads, length, dim).clone()
        cache.update(keys, -keys, index)
    return cache


def live_keys(window: DecodingWindow, row: int, length: int) -> torch.Tensor:
    """The last ``length`` written keys of ``row`` in layer 0, as the first head's first feature."""
    return window.keys[0][row, 0, 0, window.cursor - length : window.cursor]


def test_window_keeps_each_rows_columns_through_removals_and_moves():
    window = DecodingWindow(capacity_rows=3, device="cpu")
    lengths = {"a": 5, "b": 9, "c": 3}
    rows = {}
    for name, fill in zip(lengths, (100.0, 200.0, 300.0), strict=True):
        rows[name] = window.add_row(one_row_cache(lengths[name], fill), lengths[name])
    assert window.moves == 2  # placing "a" (empty window), then "b" (longer than the cursor)
    for name, fill in zip(lengths, (100.0, 200.0, 300.0), strict=True):
        assert live_keys(window, rows[name], lengths[name]).tolist() == [
            fill + c for c in range(lengths[name])
        ]
        assert window.mask[rows[name]].sum() == lengths[name]
    assert window.width == 9

    order = window.remove_rows([rows["b"]])  # the longest row leaves: "c" takes its place
    assert order == [0, 2]
    assert window.rows == 2
    assert window.start == window.cursor - 5  # the columns only "b" used are dead
    assert live_keys(window, 1, 3).tolist() == [300.0, 301.0, 302.0]

    window.add_row(one_row_cache(2, 0.0), 2)
    with pytest.raises(RuntimeError, match="no free row"):
        window.add_row(one_row_cache(2, 0.0), 2)
    window.remove_rows([2])

    # Steps until the slack is used up: the live columns move to a new window, the dead ones are dropped.
    moves = window.moves
    while window.moves == moves:
        mask = window.prepare_step()
        assert mask.shape == (2, 1, 1, window.columns)
        step = torch.full((2, 2, 1, 4), float(window.cursor))
        window.write(0, step, -step)
        window.write(1, step, -step)
        window.finish_step()
    assert window.start == 0
    assert live_keys(window, 0, window.width)[:5].tolist() == [100.0 + c for c in range(5)]
    assert window.mask[0, : window.width].all()
    assert not window.mask[0, window.width :].any()


def test_sampling_warpers_follow_the_settings():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.9]])
    assert TokenChooser(0.0, -1, 1.0, seed=0, device="cpu")(logits).tolist() == [1]
    top_one = TokenChooser(5.0, 1, 1.0, seed=0, device="cpu")
    assert {top_one(logits).item() for _ in range(20)} == {1}
    top_two = TokenChooser(5.0, 2, 1.0, seed=0, device="cpu")
    assert {top_two(logits).item() for _ in range(50)} == {1, 3}
    first = [TokenChooser(1.0, -1, 0.9, seed=4, device="cpu")(logits.repeat(8, 1)).tolist() for _ in range(2)]
    assert first[0] == first[1]


def test_models_with_sliding_window_layers_decode_with_generate(generator: TextGenerator):
    config = MistralConfig(
        vocab_size=len(generator.tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=8,
    )
    mistral = TextGenerator(MistralForCausalLM(config), generator.tokenizer, name="tiny-mistral")
    assert decoding.supports(generator.model)
    assert not decoding.supports(mistral.model)

    replies = mistral.generate(chats()[:2], InferenceSettings(max_new_tokens=3))
    assert [reply.new_tokens for reply in replies] == [3, 3]
    with pytest.raises(ValueError, match="use 'padded' or 'auto'"):
        mistral.generate(chats()[:1], InferenceSettings(max_new_tokens=3), decoder="continuous")


def test_each_step_reports_the_tokens_it_prefilled_and_chose(generator: TextGenerator):
    prompts = [generator.prompt_ids(chat) for chat in chats()]
    requests = [DecodeRequest(p, n) for p, n in zip(prompts, MAX_NEW_TOKENS, strict=True)]
    chooser = TokenChooser(0.0, -1, 1.0, seed=0, device="cpu")
    steps: list[tuple[int, int]] = []
    with torch.inference_mode():
        rows = decoding.decode(
            generator.model,
            requests,
            chooser,
            generator.eos_token_ids,
            batch_size=3,
            on_step=lambda *s: steps.append(s),
        )

    assert sum(prompt for prompt, _ in steps) == sum(map(len, prompts))
    assert sum(new for _, new in steps) == sum(len(row.tokens) for row in rows)
    assert len(steps) > len(prompts), "decoding steps are reported, not only prefills"


def test_progress_is_logged_before_any_row_finishes(
    generator: TextGenerator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Long prompts can take minutes before the first row ends: the log must not wait for it."""
    from nova_dpo.platforms.local import text_generator

    monkeypatch.setattr(text_generator, "_LOG_INTERVAL_S", 0.0)
    reports: list[dict] = []
    # One slot and rows of 40 tokens: the first row ends only after 40 steps.
    with caplog.at_level(logging.INFO, logger=text_generator.__name__):
        generator.generate(
            chats()[:2],
            InferenceSettings(max_new_tokens=40),
            batch_size=1,
            progress=reports.append,
            decoder="continuous",
        )

    before_first_row = [r for r in reports if r["rows_done"] == 0]
    assert before_first_row, reports
    assert before_first_row[-1]["new_tokens"] > 1
    assert before_first_row[-1]["prompt_tokens"] > 0
    assert before_first_row[-1]["eta_seconds"] is None
    assert "0/2 rows" in caplog.text
    assert "ETA after the first rows finish" in caplog.text
    assert reports[-1]["rows_done"] == 2
    assert reports[-1]["eta_seconds"] == 0
