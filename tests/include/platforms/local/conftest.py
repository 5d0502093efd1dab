"""Fixtures for the local platform's trainer: an offline model cache, a tiny model, Nova DPO data, a recipe."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

CITIES = ("Paris", "Oslo", "Lima", "Cairo", "Tokyo", "Rome", "Berlin", "Quito")
SYSTEM_TEXT = (
    "You may call one or more functions to assist with the user query.\n"
    '<tools>{"name": "get_weather", "parameters": {"city": "string"}}</tools>'
)

# The shape of a shipped Nova LoRA DPO recipe's training_config, with values small enough for a test.
LORA_TRAINING_CONFIG: dict[str, Any] = {
    "max_length": 256,
    "global_batch_size": 4,
    "trainer": {"max_epochs": 1},
    "model": {
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "ffn_dropout": 0.0,
        "optim": {
            "lr": 1e-3,
            "name": "distributed_fused_adam",
            "adam_w_mode": True,
            "eps": 1e-7,
            "weight_decay": 0.02,
            "betas": [0.8, 0.95],
            "sched": {"warmup_steps": 0, "constant_steps": 0, "min_lr": 1e-4},
        },
        "dpo_cfg": {"beta": 0.2},
        "peft": {
            "peft_scheme": "lora",
            "lora_tuning": {"loraplus_lr_ratio": 0.0, "alpha": 32, "adapter_dropout": 0.05},
        },
    },
}


def nova_dpo_record(city: str, turns: int = 1) -> dict[str, Any]:
    """A Nova DPO record: the preferred answer calls the tool, the rejected one makes the weather up."""
    messages: list[dict[str, Any]] = []
    if turns > 1:
        messages += [
            {"role": "user", "content": [{"text": "Hi!"}]},
            {"role": "assistant", "content": [{"text": "Hello, how can I help?"}]},
        ]
    messages.append({"role": "user", "content": [{"text": f"What is the weather in {city}?"}]})
    call = json.dumps({"name": "get_weather", "parameters": {"city": city}})
    messages.append(
        {
            "role": "assistant",
            "candidates": [
                {"content": [{"text": f"It is sunny in {city}."}], "preferenceLabel": "non-preferred"},
                {"content": [{"text": call}], "preferenceLabel": "preferred"},
            ],
        }
    )
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM_TEXT}],
        "messages": messages,
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built models are cached once per test session, outside the user's cache."""
    return tmp_path_factory.mktemp("nova-dpo-cache")


@pytest.fixture(autouse=True)
def offline(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, and the session's model cache, for each test here (restored afterwards)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NOVA_DPO_CACHE", str(model_cache))


@pytest.fixture(scope="session")
def tiny_model_dir(model_cache: Path) -> Path:
    from nova_dpo.platforms.local.model import TINY_RANDOM_MODEL, resolve_model_dir

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("NOVA_DPO_CACHE", str(model_cache))
        return resolve_model_dir(TINY_RANDOM_MODEL)


@pytest.fixture
def make_nova_record():
    """``make_nova_record(city, turns=1)``: a Nova DPO record about the weather in ``city``."""
    return nova_dpo_record


@pytest.fixture
def lora_training_config() -> dict[str, Any]:
    return copy.deepcopy(LORA_TRAINING_CONFIG)


@pytest.fixture
def train_jsonl(tmp_path: Path) -> Path:
    records = [nova_dpo_record(city, turns=1 + index % 2) for index, city in enumerate(CITIES)]
    return write_jsonl(tmp_path / "train.jsonl", records)


@pytest.fixture
def validation_jsonl(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "validation.jsonl", [nova_dpo_record(city) for city in ("Madrid", "Delhi")])


@pytest.fixture(scope="session")
def generator(tiny_model_dir: Path):
    """The tiny model with weights scaled up, so its replies depend on the prompt (at its initial scale it
    answers every prompt with the same token, which would hide padding and ordering bugs)."""
    import torch

    from nova_dpo.platforms.local.model import load_model_and_tokenizer
    from nova_dpo.platforms.local.text_generator import TextGenerator

    model, tokenizer = load_model_and_tokenizer(tiny_model_dir)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(1)
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    return TextGenerator(model, tokenizer, name="tiny-scaled")
