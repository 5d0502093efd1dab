"""Local DPO training: Nova data and recipe fields reach TRL and PEFT, training changes the model, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from nova_dpo.platforms.local.local_config import PAIR_ORDERS, LocalTrainingOptions
from nova_dpo.platforms.local.model import load_model_and_tokenizer
from nova_dpo.platforms.local.preference_data import (
    PAIR_GROUPINGS,
    call_contrast,
    nova_record_to_preference_row,
    preferred_behaviour,
    read_preference_rows,
)
from nova_dpo.platforms.local.training import (
    TRAINING_COLUMNS,
    build_dpo_config,
    build_lora_config,
    build_optimizer,
    run_training_job,
    split_global_batch,
    train_from_files,
)

# PEFT and TRL still call the gradient_checkpointing_* model methods that transformers 5 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*is deprecated:FutureWarning")

# Two optimizer steps on 8 pairs: enough to move the weights, small enough for a busy 2-core machine.
FAST = {"max_steps": 2, "torch_threads": 2, "gradient_checkpointing": False}


def lora_b_matrices(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: param.detach().clone() for name, param in model.named_parameters() if "lora_B.default" in name
    }


# ------------------------------------------------------------------------------------------------ data


def test_nova_record_becomes_a_conversational_preference_row(make_nova_record):
    record = make_nova_record("Oslo", turns=2)
    row = nova_record_to_preference_row(record)
    assert row["prompt"] == [
        {"role": "system", "content": record["system"][0]["text"]},
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "What is the weather in Oslo?"},
    ]
    assert row["chosen"] == [
        {"role": "assistant", "content": '{"name": "get_weather", "parameters": {"city": "Oslo"}}'}
    ]
    assert row["rejected"] == [{"role": "assistant", "content": "It is sunny in Oslo."}]


def test_a_bad_record_is_reported_with_its_line_number(make_nova_record, tmp_path: Path):
    bad = make_nova_record("Lima")
    bad["messages"][-1]["candidates"][0]["preferenceLabel"] = "preferred"
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(make_nova_record("Rome")) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"train\.jsonl:3: .*more than one 'preferred' candidate"):
        read_preference_rows(path)
    assert len(read_preference_rows(path, max_rows=1)) == 1


def test_balanced_rows_take_the_preferred_behaviours_in_turn(make_nova_record, tmp_path: Path):
    def record(city: str, preferred: str | None = None) -> dict[str, Any]:
        made = make_nova_record(city)
        for candidate in made["messages"][-1]["candidates"]:
            if preferred and candidate["preferenceLabel"] == "preferred":
                candidate["content"] = [{"text": preferred}]
        return made

    ask, decline = "Which city do you mean?", "I'm sorry, I can't check that with the tools I have."
    records = [record(f"City{i}") for i in range(6)]
    records += [record("Q1", ask), record("D1", decline), record("Q2", ask)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(made) + "\n" for made in records))

    balanced = read_preference_rows(path, max_rows=5, balance_by=preferred_behaviour)
    assert [preferred_behaviour(row) for row in balanced] == [
        "tool_call",
        "request_for_info",
        "cannot_answer",
        "tool_call",
        "request_for_info",
    ]
    # Each behaviour in file order.
    assert [row["prompt"][-1]["content"] for row in balanced][:2] == [
        "What is the weather in City0?",
        "What is the weather in Q1?",
    ]
    assert {preferred_behaviour(row) for row in read_preference_rows(path, max_rows=5)} == {"tool_call"}
    assert len(read_preference_rows(path, balance_by=preferred_behaviour)) == len(records)


def test_call_contrast_takes_pairs_that_reject_a_call_in_turn_with_pairs_that_prefer_one(
    make_nova_record, tmp_path: Path
):
    def record(city: str, preferred: str | None = None, rejected: str | None = None) -> dict[str, Any]:
        made = make_nova_record(city)
        for candidate in made["messages"][-1]["candidates"]:
            replacement = preferred if candidate["preferenceLabel"] == "preferred" else rejected
            if replacement:
                candidate["content"] = [{"text": replacement}]
        return made

    call = '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Oslo"}}]</TOOLCALL>'
    ask, decline = "Which city do you mean?", "I'm sorry, I can't check that with the tools I have."
    records = [record(f"City{i}") for i in range(4)]  # prefer a call over a made-up answer
    records += [record("Q1", ask, decline), record("D1", decline, call), record("Q2", ask, call)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(made) + "\n" for made in records))

    assert [call_contrast(row) for row in read_preference_rows(path)] == [
        *["prefers_call"] * 4,
        "no_call",
        "rejects_call",
        "rejects_call",
    ]
    contrasted = read_preference_rows(path, max_rows=5, balance_by=call_contrast)
    assert [row["prompt"][-1]["content"].split()[-1] for row in contrasted] == [
        "City0?",
        "Q1?",
        "D1?",
        "City1?",
        "Q2?",
    ]


# --------------------------------------------------------------------------------------- recipe mapping


def test_local_options_reject_unknown_keys_by_name():
    with pytest.raises(ValueError, match="Unknown local training option\\(s\\): lora_rnak, steps"):
        LocalTrainingOptions.from_dict({"lora_rnak": 4, "steps": 1, "seed": 1})
    assert LocalTrainingOptions.from_dict({"seed": 1}).seed == 1


@pytest.mark.parametrize(
    ("global_batch", "cap", "expected"), [(64, 2, (2, 32)), (16, 3, (2, 8)), (4, 8, (4, 1)), (6, 4, (3, 2))]
)
def test_global_batch_is_micro_batch_times_accumulation(
    global_batch: int, cap: int, expected: tuple[int, int]
):
    assert split_global_batch(global_batch, cap) == expected


def test_recipe_fields_reach_dpo_config(lora_training_config: dict[str, Any], tmp_path: Path):
    lora_training_config["global_batch_size"] = 64
    lora_training_config["trainer"]["max_epochs"] = 3
    lora_training_config["model"]["optim"]["sched"]["warmup_steps"] = 10
    options = LocalTrainingOptions(max_per_device_batch_size=4, gradient_checkpointing=True)

    args = build_dpo_config(lora_training_config, options, tmp_path)

    assert args.beta == 0.2
    assert args.learning_rate == 1e-3
    assert args.weight_decay == 0.02
    assert (args.adam_beta1, args.adam_beta2) == (0.8, 0.95)
    assert args.adam_epsilon == 1e-7
    assert args.warmup_steps == 10
    assert args.lr_scheduler_type == "cosine_with_min_lr"
    assert args.lr_scheduler_kwargs == {"min_lr": 1e-4}
    assert args.num_train_epochs == 3
    assert args.max_steps == -1
    assert args.max_length == 256
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 16)
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 64
    assert args.disable_dropout is False
    assert args.activation_checkpointing is True
    assert args.bf16 is False
    assert (
        build_dpo_config(lora_training_config, LocalTrainingOptions(dtype="bfloat16"), tmp_path).bf16 is True
    )


def test_the_dpo_loss_is_novas_sigmoid_with_an_optional_nll_term(
    lora_training_config: dict[str, Any], tmp_path: Path
):
    args = build_dpo_config(lora_training_config, LocalTrainingOptions(), tmp_path)
    assert (args.loss_type, args.loss_weights) == (["sigmoid"], None)
    args = build_dpo_config(lora_training_config, LocalTrainingOptions(sft_weight=0.5), tmp_path)
    assert (args.loss_type, args.loss_weights) == (["sigmoid", "sft"], [1.0, 0.5])
    with pytest.raises(ValueError, match="sft_weight must lie between 0 and 10"):
        LocalTrainingOptions(sft_weight=-1)


def test_an_unknown_pair_order_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="pair_order must be one of file, behaviours, calls"):
        LocalTrainingOptions(pair_order="random")
    assert set(PAIR_GROUPINGS) == set(PAIR_ORDERS)


def test_missing_recipe_field_names_the_key(lora_training_config: dict[str, Any], tmp_path: Path):
    del lora_training_config["model"]["dpo_cfg"]
    with pytest.raises(ValueError, match=r"training_config\.model\.dpo_cfg\.beta"):
        build_dpo_config(lora_training_config, LocalTrainingOptions(), tmp_path)


def test_recipe_fields_reach_lora_config(lora_training_config: dict[str, Any]):
    lora = build_lora_config(lora_training_config, LocalTrainingOptions(lora_rank=4))
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (4, 32, 0.05)
    lora_training_config["model"]["peft"] = {"peft_scheme": None}
    assert build_lora_config(lora_training_config, LocalTrainingOptions()) is None


def test_loraplus_optimizer_trains_b_at_lr_times_ratio(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, tmp_path: Path
):
    from peft import get_peft_model

    options = LocalTrainingOptions(lora_rank=4)
    args = build_dpo_config(lora_training_config, options, tmp_path)
    model, _ = load_model_and_tokenizer(tiny_model_dir)
    peft_model = get_peft_model(model, build_lora_config(lora_training_config, options))
    assert build_optimizer(peft_model, lora_training_config, args) is None  # ratio 0: the trainer's AdamW

    lora_training_config["model"]["peft"]["lora_tuning"]["loraplus_lr_ratio"] = 16.0
    optimizer = build_optimizer(peft_model, lora_training_config, args)

    names = {id(param): name for name, param in peft_model.named_parameters()}
    lr_of = {names[id(param)]: group["lr"] for group in optimizer.param_groups for param in group["params"]}
    assert {lr for name, lr in lr_of.items() if "lora_A" in name} == {1e-3}
    assert {round(lr, 12) for name, lr in lr_of.items() if "lora_B" in name} == {round(1e-3 * 16.0, 12)}
    assert {group["weight_decay"] for group in optimizer.param_groups if group["params"]} == {0.02}
    assert optimizer.defaults["betas"] == (0.8, 0.95)
    assert optimizer.defaults["eps"] == 1e-7


# ---------------------------------------------------------------------------------------------- training


@pytest.mark.slow
def test_a_training_step_changes_the_adapter_and_keeps_its_dropout(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    from datasets import Dataset

    from nova_dpo.platforms.local.training import _trainer_class

    lora_training_config["model"]["optim"]["sched"]["constant_steps"] = 3
    options = LocalTrainingOptions(max_steps=1, gradient_checkpointing=False)
    model, tokenizer = load_model_and_tokenizer(tiny_model_dir)
    trainer = _trainer_class()(
        model=model,
        args=build_dpo_config(lora_training_config, options, tmp_path),
        train_dataset=Dataset.from_list(read_preference_rows(train_jsonl)),
        processing_class=tokenizer,
        peft_config=build_lora_config(lora_training_config, options),
        constant_steps=3,
    )
    dropouts = {
        module.p for name, module in trainer.model.named_modules() if name.endswith("lora_dropout.default")
    }
    assert dropouts == {0.05}, "TRL must not zero the recipe's adapter_dropout"

    before = lora_b_matrices(trainer.model)
    assert before
    assert all(not matrix.any() for matrix in before.values())  # LoRA starts with B = 0
    trainer.train()
    after = lora_b_matrices(trainer.model)
    assert all(after[name].abs().sum() > 0 for name in before)

    # Nova's constant_steps: the last 3 of 10 steps hold min_lr after the cosine decay.
    trainer.lr_scheduler = None
    scheduler = trainer.create_scheduler(10, torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3))
    factors = [scheduler.lr_lambdas[0](step) for step in range(11)]
    assert factors[0] == 1.0
    assert factors[7:] == [pytest.approx(0.1)] * 4
    assert factors[6] > 0.1


def test_loraplus_run_writes_nova_outputs_and_a_servable_merged_model(
    lora_training_config: dict[str, Any],
    tiny_model_dir: Path,
    train_jsonl: Path,
    validation_jsonl: Path,
    tmp_path,
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lora_training_config["model"]["peft"]["lora_tuning"]["loraplus_lr_ratio"] = 16.0
    events: list[dict[str, Any]] = []
    spec = {
        "recipe": {"run": {"name": "test"}, "training_config": lora_training_config},
        "local": {**FAST, "lora_rank": 4},
        "train_path": str(train_jsonl),
        "validation_path": str(validation_jsonl),
        "base_model": "tiny-random",
    }
    out = tmp_path / "job"

    summary = run_training_job(spec, out, events.append)

    assert summary["global_steps"] == 2
    assert summary["loraplus"] is True
    assert [event["step"] for event in events] == [1, 2, 2]  # two training logs, then validation
    assert events[0]["total_steps"] == 2
    assert {"loss", "rewards/accuracies", "rewards/margins", "eta_seconds"} <= set(events[0])
    assert "eval_loss" in events[-1]
    json.dumps(events)  # the job runner stores them as JSON

    with (out / "step_wise_training_metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == TRAINING_COLUMNS
    assert [row["step_number"] for row in rows] == ["1", "2"]
    assert (out / "validation_metrics.csv").is_file()

    manifest = json.loads((out / "manifest.json").read_text())
    checkpoint = out / "checkpoint"
    assert manifest["checkpoint_s3_bucket"] == checkpoint.resolve().as_uri()
    assert (checkpoint / "adapter_model.safetensors").is_file()
    assert not (checkpoint / "ref").exists(), "TRL's reference adapter must not be shipped"
    base = json.loads((checkpoint / "base_model.json").read_text())
    assert base["base_model"] == "tiny-random"

    # The merged model is the base plus the adapter, and it generates.
    tokenizer = AutoTokenizer.from_pretrained(out / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out / "merged")
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base["base_model_dir"]), checkpoint
    )
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Weather in Lima?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        torch.testing.assert_close(merged(**inputs).logits, adapted(**inputs).logits, atol=1e-4, rtol=1e-4)
    generated = merged.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 4


def test_full_rank_trains_the_whole_model_without_an_adapter(
    lora_training_config: dict[str, Any], tiny_model_dir: Path, train_jsonl: Path, tmp_path: Path
):
    from safetensors.torch import load_file

    lora_training_config["model"]["peft"] = {"peft_scheme": None}
    out = tmp_path / "job"

    summary = train_from_files(
        {"training_config": lora_training_config}, FAST, train_jsonl, None, "tiny-random", out
    )

    assert summary["peft_scheme"] is None
    assert summary["global_steps"] == 2
    checkpoint = out / "checkpoint"
    assert not (checkpoint / "adapter_config.json").exists()
    trained = load_file(checkpoint / "model.safetensors")
    initial = load_file(tiny_model_dir / "model.safetensors")
    assert any(not torch.equal(trained[name], initial[name]) for name in initial)
    assert (out / "merged" / "model.safetensors").samefile(checkpoint / "model.safetensors")
    assert json.loads((out / "manifest.json").read_text())["peft_scheme"] is None


def test_job_spec_with_unknown_keys_is_rejected(tmp_path: Path):
    with pytest.raises(ValueError, match=r"unknown keys \['train_file'\]"):
        run_training_job({"recipe": {}, "train_file": "x", "base_model": "tiny-random"}, tmp_path, print)
