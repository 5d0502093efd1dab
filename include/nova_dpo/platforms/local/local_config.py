"""Knobs of the local training and evaluation jobs that have no counterpart in a Nova recipe.

The Nova recipe decides *what* is trained (beta, learning rate, schedule, epochs, global batch, LoRA alpha and
dropout, LoRA+ ratio) and how replies are decoded; these options decide *how* a job runs on this machine
(adapter rank, memory, threads, batch size, dtype, device, the local judge, a cap on steps and rows for quick
runs). They are kept apart so a recipe means the same on both platforms. This module imports no ML library, so
the run plan and the CLI check options without loading one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from nova_dpo.platforms.local.model import DTYPES

PAIR_ORDERS = ("file", "behaviours", "calls")

# Rows decoded together. On a 2-core CPU with SmolLM2-135M, 16 rows decode 1.7x the tokens/s of 8 and 32 add
# little more (benchmarks/bench_local.py); the decoding step reads every weight once whatever the row count.
DEFAULT_BATCH_SIZE = 16
DTYPE_CHOICES = ("auto", *DTYPES)
# How replies are decoded: continuous batching where the model allows it (auto), or transformers'
# ``model.generate`` on left-padded batches (padded: slower, for any model).
DECODER_CHOICES = ("auto", "continuous", "padded")
DEVICE_CHOICES = ("auto", "cpu", "cuda")

# All linear layers of a Llama block: the usual choice for LoRA on small models.
LLAMA_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class _Options:
    """Options that travel as plain dicts (a job spec's ``local``, CLI or DAG params)."""

    label: ClassVar[str]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Self:
        """Options from a plain dict; unknown keys are an error."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown {cls.label} option(s): {', '.join(unknown)}. Known options: {', '.join(sorted(known))}."
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class LocalTrainingOptions(_Options):
    """How the local platform runs a Nova DPO recipe on this machine."""

    label: ClassVar[str] = "local training"

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
    pair_order: str = field(
        default="file",
        metadata={
            "help": "Which pairs a run capped by max_rows takes: 'file', the first ones; 'behaviours', by the "
            "behaviour of the preferred answer in turn (a call, a question, a refusal), so a short run sees as many "
            "pairs that prefer asking or declining as pairs that prefer a call; 'calls', by what a pair teaches "
            "about calling a tool in turn (the preferred answer calls; the non-preferred one calls and the "
            "preferred one does not; neither calls). Each group in file order. Not a Nova recipe field."
        },
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
    sft_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of a negative log-likelihood term on the preferred answer, added to the DPO loss "
            "(RPO, Pang et al. 2024; TRL's loss_type sft). DPO alone teaches which answer is better more than how "
            "to write it; this term teaches the format too. Not a Nova recipe field: 0 trains as Nova does."
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
        if not 0 <= self.sft_weight <= 10:
            raise ValueError(f"sft_weight must lie between 0 and 10, got {self.sft_weight}.")
        if self.pair_order not in PAIR_ORDERS:
            raise ValueError(f"pair_order must be one of {', '.join(PAIR_ORDERS)}, got {self.pair_order!r}.")


@dataclass
class LocalEvaluationOptions(_Options):
    """How the local platform runs an evaluation job on this machine.

    The judge is Nova's own on SageMaker and a choice here. ``dtype`` changes greedy replies a little
    (bfloat16 rounds differently), so compare models evaluated with the same options.
    """

    label: ClassVar[str] = "local evaluation"

    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE,
        metadata={"help": "Replies decoded together (a row that ends takes the next prompt at once)."},
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "float32, bfloat16, or auto: bfloat16 where the hardware computes it natively (2-3x "
            "faster on CPUs with AVX512-BF16 or AMX), else float32."
        },
    )
    device: str = field(default="auto", metadata={"help": "cpu, cuda, or auto (cuda when available)."})
    decoder: str = field(
        default="auto",
        metadata={
            "help": "continuous (continuous batching, prefix-shared prefill), padded (transformers' "
            "generate on left-padded batches), or auto: continuous where every layer of the model attends "
            "to the full context, else padded."
        },
    )
    torch_threads: int = field(
        default=0, metadata={"help": "CPU threads torch may use; 0 keeps torch's default (all cores)."}
    )
    max_new_tokens: int | None = field(
        default=None, metadata={"help": "A cap on the recipe's inference.max_new_tokens; None keeps it."}
    )
    max_rows: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N rows (quick runs); None uses all."}
    )
    seed: int = field(default=0, metadata={"help": "Seed for sampling (temperature > 0) and the bootstrap."})
    judge: str = field(
        default="local",
        metadata={
            "help": "llm_judge: 'local' (the bundled small model) or an OpenAI-compatible base URL (its API "
            "key, if any, reaches the job in the environment, never as an option)."
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={
            "help": "llm_judge: the local judge model (name or folder; default the bundled model), or the "
            "endpoint's model name (default: the only model the endpoint lists)."
        },
    )
    judge_max_new_tokens: int | None = field(
        default=None, metadata={"help": "llm_judge: reply length of the judge; None picks per judge kind."}
    )
    judge_timeout_s: float = field(
        default=120.0, metadata={"help": "llm_judge: seconds per endpoint request."}
    )
    judge_retries: int = field(
        default=2, metadata={"help": "llm_judge: retries of a failed endpoint request."}
    )
    judge_concurrency: int = field(default=4, metadata={"help": "llm_judge: endpoint requests in flight."})

    def __post_init__(self) -> None:
        for name in ("batch_size", "judge_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("max_new_tokens", "max_rows", "judge_max_new_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive or None, got {value}.")
        if self.dtype not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {self.dtype!r}.")
        if self.device not in DEVICE_CHOICES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}.")
        if self.decoder not in DECODER_CHOICES:
            raise ValueError(f"decoder must be one of {', '.join(DECODER_CHOICES)}, got {self.decoder!r}.")
        if self.torch_threads < 0:
            raise ValueError(
                f"torch_threads must be 0 (torch's default) or positive, got {self.torch_threads}."
            )
        if self.judge_timeout_s <= 0 or self.judge_retries < 0:
            raise ValueError("judge_timeout_s must be positive and judge_retries non-negative.")
