"""The shared-prompt DPO forward: packing layout, fallbacks, and the same numbers as TRL's own forward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nova_dpo.platforms.local.local_config import LocalTrainingOptions
from nova_dpo.platforms.local.model import load_model_and_tokenizer
from nova_dpo.platforms.local.preference_data import read_preference_rows
from nova_dpo.platforms.local.shared_prompt import add_shared_prompt_forward, pack_pairs
from nova_dpo.platforms.local.training import _trainer_class, build_dpo_config, build_lora_config

IGNORE = -100


def trl_batch(rows: list[tuple[list[int], list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, labels)`` as TRL's DataCollatorForPreference lays them out: chosen rows, then rejected rows."""
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    examples = [{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in rows]
    batch = DataCollatorForPreference(pad_token_id=0)(examples)
    return batch["input_ids"], batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE)


def test_pairs_lie_end_to_end_unpadded_with_restarted_positions():
    input_ids, labels = trl_batch([([1, 2, 3], [4, 5], [6]), ([7, 8], [9], [10, 11])])
    packed = pack_pairs(input_ids, labels)
    assert packed is not None
    assert packed.input_ids.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 3, 4, 3, 0, 1, 2, 2, 3]]
    assert packed.spans == ((0, 6), (6, 11))
    # Pair 0: the rejected token (position 5) sees the prompt and itself, never the chosen tokens.
    assert packed.masks[0][0, 0, 0].int().tolist() == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0, 1],
    ]
    # Pair 1: prompt 7 8, chosen 9, rejected 10 11.
    assert packed.masks[1][0, 0, 0].int().tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 0, 1, 0],
        [1, 1, 0, 1, 1],
    ]
    # Scored tokens: chosen 4, 5 then rejected 6 (pair 0); chosen 9 then rejected 10, 11 (pair 1).
    assert packed.labels.tolist() == [4, 5, 6, 9, 10, 11]
    # Each is predicted by the hidden state before it; both completions start after the prompt's last token.
    assert packed.hidden_index.tolist() == [2, 3, 2, 6 + 1, 6 + 1, 6 + 3]
    # ...and lands where TRL's shifted layout has it: rows [chosen 0, chosen 1, rejected 0, rejected 1].
    assert packed.rows.tolist() == [0, 0, 2, 1, 3, 3]
    assert packed.columns.tolist() == [2, 3, 2, 1, 1, 2]
    assert packed.shape == (4, 4)


def test_a_batch_whose_paired_rows_differ_in_prompt_is_not_packed():
    input_ids, labels = trl_batch([([1, 2, 3], [4], [5]), ([1, 2, 9], [4], [5])])
    input_ids[3, 2] = 3  # pair 1's rejected row now carries pair 0's prompt
    assert pack_pairs(input_ids, labels) is None


def test_a_completion_without_a_prompt_is_not_packed():
    input_ids, labels = trl_batch([([], [4], [5])])
    assert pack_pairs(input_ids, labels) is None


def test_an_odd_batch_or_a_gap_in_a_completion_is_not_packed():
    input_ids, labels = trl_batch([([1, 2, 3], [4, 5, 6], [7])])
    assert pack_pairs(input_ids[:1], labels[:1]) is None
    gapped = labels.clone()
    gapped[0, 4] = IGNORE  # chosen tokens 4 and 6 scored, 5 not
    assert pack_pairs(input_ids, gapped) is None


def _trainer(
    tiny_model_dir: Path,
    train_jsonl: Path,
    config: dict[str, Any],
    tmp_path: Path,
    shared: bool,
    dtype: str = "float32",
    sft_weight: float = 0.0,
):
    from datasets import Dataset

    options = LocalTrainingOptions(
        gradient_checkpointing=False, shared_prompt=shared, dtype=dtype, sft_weight=sft_weight
    )
    model, tokenizer = load_model_and_tokenizer(tiny_model_dir)
    return _trainer_class()(
        model=model,
        args=build_dpo_config(config, options, tmp_path),
        train_dataset=Dataset.from_list(read_preference_rows(train_jsonl)),
        processing_class=tokenizer,
        peft_config=build_lora_config(config, options),
        shared_prompt=shared,
    )


def _forward_and_grads(trainer) -> tuple[Any, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    for name, parameter in trainer.model.named_parameters():
        if "lora_B" in name:  # B starts at 0: make the adapter matter, identically in both runs
            parameter.data.normal_(0, 0.05)
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE)
    trainer.model.train()
    outputs = trainer.model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        labels=labels,
        fused_lm_head=True,
    )
    outputs.log_probs.sum().backward()
    grads = {name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None}
    return outputs, grads


def test_shared_prompt_forward_gives_trls_log_probs_and_gradients(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    lora_training_config["model"]["peft"]["lora_tuning"]["adapter_dropout"] = 0.0
    lora_training_config["global_batch_size"] = 4  # micro-batch 2: two pairs of different lengths, padded
    trl_outputs, trl_grads = _forward_and_grads(
        _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "trl", shared=False)
    )
    packed_outputs, packed_grads = _forward_and_grads(
        _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "packed", shared=True)
    )
    assert torch.equal(packed_outputs.label_mask, trl_outputs.label_mask)
    for field in ("log_probs", "entropy", "mean_logits"):
        assert torch.allclose(getattr(packed_outputs, field), getattr(trl_outputs, field), atol=1e-4), field
    assert torch.equal(packed_outputs.is_top1, trl_outputs.is_top1)
    assert packed_grads
    assert packed_grads.keys() == trl_grads.keys()
    for name, grad in trl_grads.items():
        assert torch.allclose(packed_grads[name], grad, rtol=1e-3, atol=1e-6), name


def test_sft_weight_adds_the_preferred_answers_nll_to_the_dpo_loss(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    lora_training_config["model"]["peft"]["lora_tuning"]["adapter_dropout"] = 0.0
    lora_training_config["global_batch_size"] = 4

    def loss_and_outputs(folder: str, weight: float) -> tuple[float, Any]:
        trainer = _trainer(
            tiny_model_dir, train_jsonl, lora_training_config, tmp_path / folder, True, sft_weight=weight
        )
        outputs, _ = _forward_and_grads(trainer)  # seeds the adapter as in the other runs
        batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
        with torch.no_grad():
            return trainer.compute_loss(trainer.model, batch).item(), outputs

    dpo_only, outputs = loss_and_outputs("dpo", 0.0)
    with_nll, _ = loss_and_outputs("rpo", 0.5)
    chosen = outputs.log_probs.shape[0] // 2
    mask = outputs.label_mask[:chosen].bool()
    nll = -outputs.log_probs[:chosen][mask].mean().item()
    assert nll > 0.1
    assert with_nll == pytest.approx(dpo_only + 0.5 * nll, rel=1e-4)


def test_activation_checkpointing_recomputes_the_packed_attention(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    # The backward pass recomputes each layer: it must run the per-pair attention again, not plain SDPA.
    lora_training_config["model"]["peft"]["lora_tuning"]["adapter_dropout"] = 0.0
    lora_training_config["global_batch_size"] = 4
    stored_outputs, stored_grads = _forward_and_grads(
        _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "stored", shared=True)
    )
    trainer = _trainer(
        tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "recomputed", shared=True
    )
    trainer.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    recomputed_outputs, recomputed_grads = _forward_and_grads(trainer)
    assert torch.allclose(recomputed_outputs.log_probs, stored_outputs.log_probs, atol=1e-5)
    assert recomputed_grads.keys() == stored_grads.keys()
    for name, grad in stored_grads.items():
        assert torch.allclose(recomputed_grads[name], grad, rtol=1e-4, atol=1e-7), name


def test_shared_prompt_is_added_once_and_only_when_asked(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    trainer = _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "on", shared=True)
    causal_lm = trainer.model.get_base_model()
    assert causal_lm._nova_shared_prompt is True
    forward = causal_lm.forward
    trainer._add_shared_prompt_forward()
    assert causal_lm.forward is forward

    off = _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "off", shared=False)
    assert not getattr(off.model.get_base_model(), "_nova_shared_prompt", False)


def test_a_model_with_scaled_logits_keeps_trls_forward(tiny_model_dir: Path):
    model, _ = load_model_and_tokenizer(tiny_model_dir)
    model.config.final_logit_softcapping = 30.0
    assert add_shared_prompt_forward(model) is False


def test_under_bf16_autocast_adapter_inputs_are_not_cast_up_to_float32(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    from peft.tuners.tuners_utils import BaseTunerLayer

    def casts(trainer) -> set[bool]:
        return {m.cast_input_dtype_enabled for m in trainer.model.modules() if isinstance(m, BaseTunerLayer)}

    bf16 = _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "bf16", True, "bfloat16")
    assert bf16.args.bf16
    assert casts(bf16) == {False}
    # The adapter weights themselves stay float32 (the optimizer's master copy).
    assert {p.dtype for n, p in bf16.model.named_parameters() if "lora_" in n} == {torch.float32}
    fp32 = _trainer(tiny_model_dir, train_jsonl, lora_training_config, tmp_path / "fp32", True)
    assert casts(fp32) == {True}
