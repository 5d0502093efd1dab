"""DPO training on the local platform: a Nova DPO recipe run with TRL + PEFT on a small open model.

The recipe's ``training_config`` means the same here as on SageMaker:

==========================================  ===========================================================
Nova recipe (``training_config.``)          TRL / PEFT
==========================================  ===========================================================
``model.dpo_cfg.beta``                      ``DPOConfig.beta``
``model.optim.lr``                          ``learning_rate``
``model.optim.weight_decay``                ``weight_decay``
``model.optim.betas`` / ``eps``             ``adam_beta1``, ``adam_beta2`` / ``adam_epsilon`` (AdamW)
``model.optim.sched.warmup_steps``          ``warmup_steps``, counted as NeMo's CosineAnnealing does
``model.optim.sched.min_lr``                ``lr_scheduler_kwargs={"min_lr": ...}``: the cosine's floor
``model.optim.sched.constant_steps``        the last N steps hold ``min_lr`` (see :mod:`.schedule`)
``trainer.max_epochs``                      ``num_train_epochs``
``max_length``                              ``max_length``
``global_batch_size``                       ``per_device_train_batch_size`` x ``gradient_accumulation_steps``
``model.attention_dropout``                 the model's ``attention_dropout``
``model.peft.peft_scheme``                  ``"lora"``: a ``LoraConfig``; null: full-rank training
``model.peft.lora_tuning.alpha``            ``LoraConfig.lora_alpha``
``model.peft.lora_tuning.adapter_dropout``  ``LoraConfig.lora_dropout`` (kept: ``disable_dropout=False``)
``model.peft.lora_tuning.loraplus_lr_ratio``  > 0: LoRA+ (``peft.optimizers.create_loraplus_optimizer``)
==========================================  ===========================================================

What only makes sense on this machine (LoRA rank, micro-batch cap, dtype, threads, step and row caps) comes
from :class:`~nova_dpo.platforms.local.local_config.LocalTrainingOptions`.

Outputs, in the job's output folder (the layout of a Nova training job's ``output.tar.gz``, plus the model):

- ``step_wise_training_metrics.csv``: ``step_number``, ``training_loss`` and the reward metrics, appended as
  training goes, so a running or failed job shows its progress;
- ``validation_metrics.csv`` when a validation file was given;
- ``checkpoint/``: the LoRA adapter and ``base_model.json`` naming the base, or the full weights (full rank);
- ``merged/``: the base model with the adapter merged in, ready to serve;
- ``resolved_config.json``: the recipe values, the local options and the TRL arguments they became;
- ``manifest.json`` (written last): ``checkpoint_s3_bucket`` is the ``file://`` URI of ``checkpoint/``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_dpo.platforms.local.local_config import LocalTrainingOptions
from nova_dpo.platforms.local.model import (
    load_model_and_tokenizer,
    resolve_model_dir,
    write_directory_atomically,
)
from nova_dpo.platforms.local.preference_data import PAIR_GROUPINGS, read_preference_rows
from nova_dpo.platforms.local.schedule import cosine_annealing_scheduler
from nova_dpo.platforms.local.shared_prompt import add_shared_prompt_forward

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig
    from transformers import PreTrainedModel
    from trl import DPOConfig

log = logging.getLogger(__name__)

TRAINING_METRICS_FILE = "step_wise_training_metrics.csv"
VALIDATION_METRICS_FILE = "validation_metrics.csv"
MANIFEST_FILE = "manifest.json"
RESOLVED_CONFIG_FILE = "resolved_config.json"
CHECKPOINT_DIR = "checkpoint"
MERGED_DIR = "merged"
BASE_MODEL_FILE = "base_model.json"

# TRL's metric names, and the CSV columns they are written to.
REWARD_METRICS = {
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
    "rewards/accuracies": "rewards_accuracies",
    "rewards/margins": "rewards_margins",
}
TRAINING_COLUMNS = ("step_number", "training_loss", *REWARD_METRICS.values(), "learning_rate", "epoch")
VALIDATION_COLUMNS = ("step_number", "validation_loss", *REWARD_METRICS.values())

SPEC_KEYS = ("recipe", "local", "train_path", "validation_path", "base_model")

ProgressFn = Callable[[dict[str, Any]], None]


# ---------------------------------------------------------------------------------------------- recipe access


def _get(config: Mapping[str, Any], dotted: str, default: Any = ...) -> Any:
    """``training_config`` value at a dotted path; a missing required value names the key to set."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            if default is ...:
                raise ValueError(
                    f"The recipe has no training_config.{dotted}: set it in the recipe or an override."
                )
            return default
        node = node[part]
    return node


def peft_scheme(training_config: Mapping[str, Any]) -> str | None:
    """``"lora"`` or None (full rank); anything else is an error."""
    scheme = _get(training_config, "model.peft.peft_scheme", None)
    if scheme not in (None, "lora"):
        raise ValueError(f"peft_scheme must be 'lora' or null (full rank), got {scheme!r}.")
    return scheme


def loraplus_lr_ratio(training_config: Mapping[str, Any]) -> float:
    """The LoRA+ ratio of the B-matrix learning rate to the A-matrix one; 0 when LoRA+ is off."""
    if peft_scheme(training_config) is None:
        return 0.0
    return float(_get(training_config, "model.peft.lora_tuning.loraplus_lr_ratio", 0.0) or 0.0)


def split_global_batch(global_batch_size: int, max_per_device: int) -> tuple[int, int]:
    """``(micro_batch, accumulation_steps)`` whose product is exactly ``global_batch_size``.

    The micro-batch is the largest divisor of the global batch that fits under the local cap, so the
    optimizer sees the recipe's batch size however little memory this machine has.
    """
    if global_batch_size < 1:
        raise ValueError(f"global_batch_size must be positive, got {global_batch_size}.")
    micro = next(
        size for size in range(min(global_batch_size, max_per_device), 0, -1) if global_batch_size % size == 0
    )
    return micro, global_batch_size // micro


# ------------------------------------------------------------------------------------------ TRL / PEFT pieces


def build_dpo_config(
    training_config: Mapping[str, Any],
    options: LocalTrainingOptions,
    output_dir: str | Path,
) -> DPOConfig:
    """The TRL ``DPOConfig`` for a Nova recipe's ``training_config`` run with the local options."""
    import torch
    from trl import DPOConfig

    lr = float(_get(training_config, "model.optim.lr"))
    if lr <= 0:
        raise ValueError(f"training_config.model.optim.lr must be positive, got {lr}.")
    min_lr = float(_get(training_config, "model.optim.sched.min_lr", 0.0) or 0.0)
    if not 0 <= min_lr <= lr:
        raise ValueError(
            f"training_config.model.optim.sched.min_lr ({min_lr}) must lie between 0 and lr ({lr})."
        )
    beta1, beta2 = (float(beta) for beta in _get(training_config, "model.optim.betas", (0.9, 0.999)))
    micro_batch, accumulation = split_global_batch(
        int(_get(training_config, "global_batch_size")), options.max_per_device_batch_size
    )
    if _get(training_config, "model.optim.adam_w_mode", True) is False:
        log.warning(
            "optim.adam_w_mode=false is not supported locally; training with AdamW (decoupled decay)."
        )
    return DPOConfig(
        output_dir=str(output_dir),
        beta=float(_get(training_config, "model.dpo_cfg.beta")),
        **_losses(options.sft_weight),
        learning_rate=lr,
        weight_decay=float(_get(training_config, "model.optim.weight_decay", 0.0)),
        adam_beta1=beta1,
        adam_beta2=beta2,
        adam_epsilon=float(_get(training_config, "model.optim.eps", 1e-8)),
        optim="adamw_torch",
        # Nova counts warmup in steps; an int keeps transformers from reading values below 1 as a ratio.
        warmup_steps=int(_get(training_config, "model.optim.sched.warmup_steps", 0)),
        # NovaDPOTrainer runs NeMo's CosineAnnealing instead (see .schedule); this is the nearest transformers
        # schedule, for these arguments used with a plain Trainer.
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr": min_lr},
        num_train_epochs=float(_get(training_config, "trainer.max_epochs")),
        max_steps=options.max_steps,
        max_length=int(_get(training_config, "max_length")),
        per_device_train_batch_size=micro_batch,
        per_device_eval_batch_size=micro_batch,
        gradient_accumulation_steps=accumulation,
        # TRL zeroes every dropout by default, which would silently drop the recipe's adapter_dropout.
        # The base model's own dropouts come from the recipe too (all 0.0 in the shipped recipes).
        disable_dropout=False,
        # The new name; the deprecated `gradient_checkpointing` (TRL's default True) must be unset to avoid a warning.
        activation_checkpointing=options.gradient_checkpointing,
        gradient_checkpointing=None,
        bf16=options.dtype == "bfloat16",
        fp16=False,
        # Without a CUDA GPU, say CPU explicitly: transformers refuses bf16 unless use_cpu is set.
        use_cpu=not torch.cuda.is_available(),
        seed=options.seed,
        data_seed=options.seed,
        logging_steps=options.logging_steps,
        precompute_ref_log_probs=options.precompute_ref_log_probs,
        precompute_ref_batch_size=options.reference_batch_size,
        save_strategy="no",
        eval_strategy="no",
        # Validation needs the loss and reward metrics only: without this, TRL runs a second forward per batch to
        # build full-vocabulary logits that nothing reads.
        prediction_loss_only=True,
        report_to="none",
        # Progress is logged by NovaProgressCallback, one line per step.
        disable_tqdm=True,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _losses(sft_weight: float) -> dict[str, Any]:
    """Nova's sigmoid DPO loss, with TRL's NLL term on the preferred answer beside it when ``sft_weight`` is set."""
    if not sft_weight:
        return {"loss_type": ["sigmoid"]}
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, sft_weight]}


def build_lora_config(training_config: Mapping[str, Any], options: LocalTrainingOptions) -> LoraConfig | None:
    """The ``LoraConfig`` for a LoRA recipe, or None for full-rank training (``peft_scheme: null``)."""
    from peft import LoraConfig

    if peft_scheme(training_config) is None:
        return None
    return LoraConfig(
        r=options.lora_rank,
        lora_alpha=float(_get(training_config, "model.peft.lora_tuning.alpha")),
        lora_dropout=float(_get(training_config, "model.peft.lora_tuning.adapter_dropout", 0.0)),
        target_modules=list(options.lora_target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def build_optimizer(
    model: PreTrainedModel, training_config: Mapping[str, Any], args: DPOConfig
) -> torch.optim.Optimizer | None:
    """The LoRA+ optimizer when the recipe asks for it (``loraplus_lr_ratio`` > 0), else None.

    None lets the trainer build its usual AdamW from ``args``. LoRA+ trains the B matrices at
    ``lr * loraplus_lr_ratio`` and the A matrices at ``lr``; it needs the model already wrapped as a PeftModel.
    """
    import torch
    from peft import PeftModel
    from peft.optimizers import create_loraplus_optimizer

    ratio = loraplus_lr_ratio(training_config)
    if ratio <= 0:
        return None
    if not isinstance(model, PeftModel):
        raise TypeError("LoRA+ needs a PeftModel: wrap the model with peft.get_peft_model first.")
    return create_loraplus_optimizer(
        model=model,
        optimizer_cls=torch.optim.AdamW,
        lr=args.learning_rate,
        loraplus_lr_ratio=ratio,
        # The groups carry their own decay, which defaults to 0: pass the recipe's.
        loraplus_weight_decay=args.weight_decay,
        betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon,
    )


def _model_dropouts(training_config: Mapping[str, Any]) -> dict[str, float]:
    """Model config overrides for the recipe's dropouts that a Llama model has (only attention dropout).

    With LoRA the reference log-probs come from the same model with its adapter off, still in training mode,
    so a non-zero attention dropout also makes the reference noisy (the shipped recipes use 0.0).
    """
    for key in ("hidden_dropout", "ffn_dropout"):
        if float(_get(training_config, f"model.{key}", 0.0) or 0.0) > 0:
            log.warning("training_config.model.%s has no counterpart in a Llama model and is ignored.", key)
    return {"attention_dropout": float(_get(training_config, "model.attention_dropout", 0.0) or 0.0)}


# -------------------------------------------------------------------------------------------------- progress


def _fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class _CsvAppender:
    """A CSV file that gets one row per call, flushed at once, so readers see progress as it happens."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path, self.columns = path, columns
        path.unlink(missing_ok=True)

    def append(self, row: Mapping[str, Any]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


def _progress_callback(
    report: ProgressFn | None, training_csv: _CsvAppender, validation_csv: _CsvAppender | None
):
    from transformers import TrainerCallback

    class NovaProgressCallback(TrainerCallback):
        """Logs each metrics record, appends it to the Nova metrics CSVs and reports it to the job runner."""

        def __init__(self) -> None:
            self.started = time.monotonic()
            self.last_training: dict[str, Any] = {}
            self.validation: dict[str, Any] = {}

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            log.info(
                "Training %d optimizer steps: micro-batch %d x %d accumulation = global batch %d",
                state.max_steps,
                args.per_device_train_batch_size,
                args.gradient_accumulation_steps,
                args.per_device_train_batch_size * args.gradient_accumulation_steps,
            )

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            step, total = state.global_step, state.max_steps
            elapsed = time.monotonic() - self.started
            eta = elapsed / step * (total - step) if step else None
            event: dict[str, Any] = {
                "step": step,
                "total_steps": total,
                "epoch": state.epoch,
                "elapsed_seconds": round(elapsed, 1),
                "eta_seconds": None if eta is None else round(eta, 1),
            }
            if "loss" in logs:
                event.update({key: logs.get(key) for key in ("loss", *REWARD_METRICS, "learning_rate")})
                self.last_training = event
                training_csv.append(
                    {
                        "step_number": step,
                        "training_loss": logs["loss"],
                        "learning_rate": logs.get("learning_rate"),
                        "epoch": state.epoch,
                        **{column: logs.get(metric) for metric, column in REWARD_METRICS.items()},
                    }
                )
                log.info(
                    "step %d/%d loss %.4f reward accuracy %.2f margin %.3f lr %.2e eta %s",
                    step,
                    total,
                    logs["loss"],
                    logs.get("rewards/accuracies", math.nan),
                    logs.get("rewards/margins", math.nan),
                    logs.get("learning_rate", math.nan),
                    "?" if eta is None else _fmt_duration(eta),
                )
            elif "eval_loss" in logs:
                event.update({f"eval_{key}": logs.get(f"eval_{key}") for key in ("loss", *REWARD_METRICS)})
                self.validation = event
                if validation_csv is not None:
                    validation_csv.append(
                        {
                            "step_number": step,
                            "validation_loss": logs["eval_loss"],
                            **{
                                column: logs.get(f"eval_{metric}")
                                for metric, column in REWARD_METRICS.items()
                            },
                        }
                    )
                log.info(
                    "validation at step %d: loss %.4f reward accuracy %.2f margin %.3f",
                    step,
                    logs["eval_loss"],
                    logs.get("eval_rewards/accuracies", math.nan),
                    logs.get("eval_rewards/margins", math.nan),
                )
            else:
                return  # the end-of-training summary; the caller reports it
            if report is not None:
                report(event)

    return NovaProgressCallback()


def _trainer_class():
    from trl import DPOTrainer

    class NovaDPOTrainer(DPOTrainer):
        """DPOTrainer with Nova's learning-rate schedule, the shared-prompt forward and bf16 adapter inputs.

        The schedule is NeMo's CosineAnnealing, which Nova recipes configure (warm-up, cosine to ``min_lr``,
        ``constant_steps`` at ``min_lr``), built from the ``DPOConfig``'s ``warmup_steps`` and ``min_lr``.
        """

        def __init__(
            self, *args: Any, constant_steps: int = 0, shared_prompt: bool = False, **kwargs: Any
        ) -> None:
            self.constant_steps = constant_steps
            self.shared_prompt = shared_prompt
            super().__init__(*args, **kwargs)
            self._add_shared_prompt_forward()
            self._keep_adapter_inputs_in_autocast_dtype()

        def _add_shared_prompt_forward(self) -> None:
            """Pack each pair's completions behind one shared prompt (see :mod:`.shared_prompt`), once."""
            from peft import PeftModel

            causal_lm = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
            if not self.shared_prompt or getattr(causal_lm, "_nova_shared_prompt", False):
                return
            causal_lm._nova_shared_prompt = add_shared_prompt_forward(causal_lm)
            if not causal_lm._nova_shared_prompt:
                log.warning("shared_prompt is not supported for this model; using TRL's forward.")

        def _keep_adapter_inputs_in_autocast_dtype(self) -> None:
            """Under bf16 autocast, stop PEFT from casting each adapter's input up to its float32 weights.

            Autocast runs the adapter's matmuls in bfloat16 anyway, so the cast only copies activations twice
            per LoRA module (about an eighth of a step on a CPU); the adapter weights stay float32.
            """
            from peft.tuners.tuners_utils import BaseTunerLayer

            if not self.args.bf16:
                return
            for module in self.model.modules():
                if isinstance(module, BaseTunerLayer):
                    module.cast_input_dtype_enabled = False

        def _precompute_ref_logps(self, *args: Any, **kwargs: Any):
            # TRL precomputes while it is being built: add the packed forward before the first reference pass.
            self._add_shared_prompt_forward()
            return super()._precompute_ref_logps(*args, **kwargs)

        def create_scheduler(self, num_training_steps, optimizer=None):
            """NeMo's CosineAnnealing from the recipe's ``optim.sched`` (see :mod:`.schedule`)."""
            if self.lr_scheduler is None:
                self.lr_scheduler = cosine_annealing_scheduler(
                    optimizer or self.optimizer,
                    min_lr=float(self.args.lr_scheduler_kwargs.get("min_lr", 0.0)),
                    warmup_steps=int(self.args.warmup_steps),
                    constant_steps=self.constant_steps,
                    total_steps=num_training_steps,
                )
                self._created_lr_scheduler = True
            return self.lr_scheduler

    return NovaDPOTrainer


# --------------------------------------------------------------------------------------------------- outputs


def _write_json_atomically(path: Path, payload: Mapping[str, Any]) -> None:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, path)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _save_model(model, tokenizer, output_dir: Path, base: Mapping[str, str], lora: bool) -> None:
    """Write ``checkpoint/`` (adapter or full weights) and ``merged/`` (a model ready to serve)."""
    import torch

    def write_checkpoint(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / BASE_MODEL_FILE).write_text(json.dumps(base, indent=2) + "\n", encoding="utf-8")

    if lora and "ref" in model.peft_config:
        # TRL's frozen copy of the initial adapter, only the reference during LoRA+ training.
        model.delete_adapter("ref")
    write_directory_atomically(output_dir / CHECKPOINT_DIR, write_checkpoint, replace=True)

    merged = model
    if lora:
        # Merge in float32: LoRA updates are small next to the weights and bfloat16 would round many away.
        merged = model.to(torch.float32).merge_and_unload()

    def write_merged(folder: Path) -> None:
        if lora:
            merged.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            return
        # Full rank: the checkpoint already is the servable model; link its files instead of a second copy.
        for source in (output_dir / CHECKPOINT_DIR).iterdir():
            if source.name != BASE_MODEL_FILE:
                _link_or_copy(source, folder / source.name)

    write_directory_atomically(output_dir / MERGED_DIR, write_merged, replace=True)


# ----------------------------------------------------------------------------------------------- entry points


@contextlib.contextmanager
def _quiet_checkpointing_deprecations() -> Iterator[None]:
    """Hide transformers 5's deprecation of the gradient_checkpointing_* methods that PEFT, TRL and Trainer call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`\w*gradient_checkpointing\w*` is deprecated", FutureWarning)
        yield


# The TRL arguments recorded in resolved_config.json: everything the recipe and the local options decide.
RESOLVED_TRL_ARGS = (
    "beta",
    "learning_rate",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "warmup_steps",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "num_train_epochs",
    "max_steps",
    "max_length",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "activation_checkpointing",
    "disable_dropout",
    "bf16",
    "precompute_ref_log_probs",
    "seed",
)


def train(
    training_config: Mapping[str, Any],
    options: LocalTrainingOptions,
    train_path: str | Path,
    validation_path: str | Path | None,
    base_model: str,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """DPO-train ``base_model`` on a Nova DPO JSONL file as the recipe says; return a small summary."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import PrinterCallback, set_seed

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / MANIFEST_FILE).unlink(missing_ok=True)
    if options.torch_threads:
        torch.set_num_threads(options.torch_threads)
    set_seed(options.seed)

    args = build_dpo_config(training_config, options, output_dir)
    lora_config = build_lora_config(training_config, options)
    train_rows = read_preference_rows(
        train_path, options.max_rows, balance_by=PAIR_GROUPINGS[options.pair_order]
    )
    validation_rows = read_preference_rows(validation_path, options.max_eval_rows) if validation_path else []

    model_dir = resolve_model_dir(base_model)
    # With LoRA the base is frozen, so it may be stored in bfloat16; full-rank training keeps float32 master
    # weights and gets bfloat16 from autocast (args.bf16).
    load_dtype = options.dtype if lora_config is not None else "float32"
    model, tokenizer = load_model_and_tokenizer(
        model_dir, dtype=load_dtype, **_model_dropouts(training_config)
    )
    optimizer = None
    if lora_config is not None and loraplus_lr_ratio(training_config) > 0:
        # create_loraplus_optimizer needs the PeftModel, so wrap here instead of passing peft_config to TRL.
        with _quiet_checkpointing_deprecations():
            model = get_peft_model(model, lora_config)
        optimizer = build_optimizer(model, training_config, args)
        lora_config = None

    resolved = {
        "base_model": base_model,
        "base_model_dir": str(model_dir),
        "training_config": dict(training_config),
        "local": options.to_dict(),
        "trl": {key: getattr(args, key) for key in RESOLVED_TRL_ARGS},
        "loraplus_lr_ratio": loraplus_lr_ratio(training_config),
        "lr_schedule": "NeMo CosineAnnealing",
    }
    _write_json_atomically(output_dir / RESOLVED_CONFIG_FILE, resolved)
    log.info("Resolved training arguments: %s", json.dumps(resolved["trl"], sort_keys=True))

    callback = _progress_callback(
        progress,
        _CsvAppender(output_dir / TRAINING_METRICS_FILE, TRAINING_COLUMNS),
        _CsvAppender(output_dir / VALIDATION_METRICS_FILE, VALIDATION_COLUMNS) if validation_rows else None,
    )
    started = time.monotonic()
    with _quiet_checkpointing_deprecations():
        trainer = _trainer_class()(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(validation_rows) if validation_rows else None,
            processing_class=tokenizer,
            callbacks=[callback],
            optimizers=(optimizer, None),
            peft_config=lora_config,
            constant_steps=int(_get(training_config, "model.optim.sched.constant_steps", 0) or 0),
            shared_prompt=options.shared_prompt,
        )
        # With tqdm off, transformers prints every raw log dict to stdout; NovaProgressCallback logs them instead.
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
        if validation_rows:
            trainer.evaluate()

    lora = peft_scheme(training_config) == "lora"
    _save_model(
        trainer.model,
        tokenizer,
        output_dir,
        {"base_model": base_model, "base_model_dir": str(model_dir)},
        lora,
    )
    checkpoint_uri = (output_dir / CHECKPOINT_DIR).as_uri()
    manifest = {
        "checkpoint_s3_bucket": checkpoint_uri,
        "merged_model_uri": (output_dir / MERGED_DIR).as_uri(),
        "base_model": base_model,
        "peft_scheme": "lora" if lora else None,
    }
    _write_json_atomically(output_dir / MANIFEST_FILE, manifest)

    summary = {
        "status": "Completed",
        "base_model": base_model,
        "peft_scheme": manifest["peft_scheme"],
        "loraplus": optimizer is not None,
        "train_rows": len(train_rows),
        "validation_rows": len(validation_rows),
        "global_steps": result.global_step,
        "train_loss": result.training_loss,
        "train_seconds": round(time.monotonic() - started, 1),
        "final": callback.last_training,
        "validation": callback.validation,
        "checkpoint_uri": checkpoint_uri,
        "output_dir": str(output_dir),
    }
    log.info("Training finished: %d steps in %s", result.global_step, _fmt_duration(summary["train_seconds"]))
    return summary


def run_training_job(spec: Mapping[str, Any], output_dir: str | Path, progress: ProgressFn) -> dict[str, Any]:
    """Run one local training job described by ``spec`` (what the detached local job runner calls).

    :param spec: ``{"recipe": resolved recipe with "training_config", "local": LocalTrainingOptions dict,
        "train_path": str, "validation_path": str | None, "base_model": str}``.
    :param output_dir: the job's output folder.
    :param progress: called with a small JSON-serializable dict on each metrics record (step, total_steps, loss,
        rewards/accuracies, rewards/margins, learning_rate, eta_seconds, ...).
    """
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    missing = [key for key in ("recipe", "train_path", "base_model") if not spec.get(key)]
    if unknown or missing:
        raise ValueError(
            f"Bad training job spec: unknown keys {unknown}, missing keys {missing}; expected {', '.join(SPEC_KEYS)}."
        )
    training_config = spec["recipe"].get("training_config")
    if not isinstance(training_config, Mapping):
        raise ValueError("The job's recipe has no training_config section.")
    return train(
        training_config,
        LocalTrainingOptions.from_dict(spec.get("local")),
        spec["train_path"],
        spec.get("validation_path"),
        spec["base_model"],
        output_dir,
        progress,
    )


def train_from_files(
    recipe: Mapping[str, Any],
    local: Mapping[str, Any] | None,
    train_path: str | Path,
    validation_path: str | Path | None,
    base_model: str,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Foreground training for the CLI: the same job as :func:`run_training_job`, progress only logged."""
    spec = {
        "recipe": recipe,
        "local": dict(local or {}),
        "train_path": str(train_path),
        "validation_path": str(validation_path) if validation_path else None,
        "base_model": base_model,
    }
    return run_training_job(spec, out_dir, progress=lambda event: None)
