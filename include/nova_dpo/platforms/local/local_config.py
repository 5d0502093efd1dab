"""Knobs of the local trainer that have no counterpart in a Nova recipe.

The Nova recipe decides *what* is trained (beta, learning rate, schedule, epochs, global batch, LoRA alpha and
dropout, LoRA+ ratio); these options decide *how* it runs on this machine (adapter rank, memory, threads,
a cap on steps and rows for quick runs). They are kept apart so a recipe means the same on both platforms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from nova_dpo.platforms.local.model import DTYPES

# All linear layers of a Llama block: the usual choice for LoRA on small models.
LLAMA_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class LocalTrainingOptions:
    """How the local platform runs a Nova DPO recipe on this machine."""

    lora_rank: int = field(
        default=8,
        metadata={"help": "LoRA rank r. Nova recipes fix the rank internally, so it is chosen here."},
    )
    lora_target_modules: list[str] = field(
        default_factory=lambda: list(LLAMA_LINEAR_MODULES),
        metadata={"help": "Module names that receive LoRA adapters."},
    )
    max_steps: int = field(
        default=-1,
        metadata={"help": "Stop after this many optimizer steps; -1 lets the recipe's max_epochs decide."},
    )
    max_rows: int | None = field(
        default=None,
        metadata={"help": "Train on at most this many preference pairs (the first ones); None uses all."},
    )
    max_eval_rows: int | None = field(
        default=64,
        metadata={"help": "Evaluate on at most this many validation pairs; None uses all."},
    )
    dtype: str = field(
        default="float32",
        metadata={
            "help": "float32, or bfloat16 for mixed precision (about 2x faster on CPUs with AVX512-BF16). With "
            "LoRA the frozen base weights are also stored in bfloat16; trained weights stay float32."
        },
    )
    torch_threads: int = field(
        default=0,
        metadata={"help": "Number of CPU threads torch may use; 0 keeps torch's default (all cores)."},
    )
    gradient_checkpointing: bool = field(
        default=True,
        metadata={"help": "Recompute activations in the backward pass: less memory, somewhat slower steps."},
    )
    shared_prompt: bool = field(
        default=True,
        metadata={
            "help": "Score a pair's chosen and rejected completions in one sequence that shares the prompt (prefix "
            "sharing): the same log-probabilities as TRL's two sequences at about half the compute. False runs "
            "TRL's own forward."
        },
    )
    precompute_ref_log_probs: bool = field(
        default=False,
        metadata={
            "help": "Compute the reference log-probabilities once, before training, in batches of "
            "reference_batch_size, instead of in every training step."
        },
    )
    reference_batch_size: int = field(
        default=8,
        metadata={"help": "Pairs per forward pass when reference log-probabilities are precomputed."},
    )
    max_per_device_batch_size: int = field(
        default=2,
        metadata={
            "help": "Largest micro-batch per step. The recipe's global_batch_size is reached with gradient "
            "accumulation: micro-batch = the largest divisor of global_batch_size not above this cap."
        },
    )
    seed: int = field(default=42, metadata={"help": "Seed for adapter initialisation and data shuffling."})
    logging_steps: int = field(
        default=1,
        metadata={"help": "Log metrics every N optimizer steps (Nova logs every step)."},
    )

    def __post_init__(self) -> None:
        if self.lora_rank < 1:
            raise ValueError(f"lora_rank must be at least 1, got {self.lora_rank}.")
        if isinstance(self.lora_target_modules, str) or not self.lora_target_modules:
            raise ValueError(
                f"lora_target_modules must be a non-empty list of module names, got {self.lora_target_modules!r}."
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (epochs decide) or positive, got {self.max_steps}.")
        for name in ("max_rows", "max_eval_rows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive or None, got {value}.")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}.")
        if self.torch_threads < 0:
            raise ValueError(
                f"torch_threads must be 0 (torch's default) or positive, got {self.torch_threads}."
            )
        if self.max_per_device_batch_size < 1:
            raise ValueError(
                f"max_per_device_batch_size must be at least 1, got {self.max_per_device_batch_size}."
            )
        if self.reference_batch_size < 1:
            raise ValueError(f"reference_batch_size must be at least 1, got {self.reference_batch_size}.")
        if self.logging_steps < 1:
            raise ValueError(f"logging_steps must be at least 1, got {self.logging_steps}.")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> LocalTrainingOptions:
        """Options from a plain dict (a job spec, CLI or DAG params); unknown keys are an error."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown local training option(s): {', '.join(unknown)}. Known options: {', '.join(sorted(known))}."
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
