import copy
import logging

import pytest

from nova_dpo.catalog import RECIPES
from nova_dpo.recipes import (
    RecipeValidationError,
    base_recipe_for,
    load_recipe,
    param_bounds,
    resolve_recipe,
    validate_recipe,
)
from nova_dpo.recipes.ranges import RULES, Rule, rules_for

BETA = "training_config.model.dpo_cfg.beta"


def _set(recipe, path, value):
    node = recipe
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return recipe


def _bad_value(rule: Rule):
    """A value that breaks ``rule`` in strict mode."""
    bounds = rule.bounds
    if rule.kind == "list":
        return [bounds.minimum, bounds.maximum + 1]
    if rule.pattern is not None:
        return "not valid!"
    if bounds.allowed is not None:
        numbers = [a for a in bounds.allowed if isinstance(a, int) and not isinstance(a, bool)]
        if numbers:
            return max(numbers) + 1
        return "dora" if None in bounds.allowed else "not-an-allowed-value"
    if bounds.maximum is not None:
        return bounds.maximum * 2 + 1
    if bounds.minimum is not None:
        return bounds.minimum if bounds.exclusive_minimum else bounds.minimum - 1
    return {"str": 42, "bool": "yes", "int": "many", "number": "much", "any": object()}[rule.kind]


def _cases():
    for name, spec in RECIPES.items():
        for rule in rules_for(spec):
            yield pytest.param(name, None, rule, id=f"{name}-{rule.path}")
        for instance_type in spec.instance_types:
            for rule in rules_for(spec, instance_type):
                if rule.scope.instance_types is not None:
                    yield pytest.param(name, instance_type, rule, id=f"{name}-{instance_type}-{rule.path}")


CASES = list(_cases())


def test_every_rule_is_exercised_by_some_case():
    exercised = {id(case.values[2]) for case in CASES}
    assert [rule.path for rule in RULES if id(rule) not in exercised] == []


@pytest.mark.parametrize(("name", "instance_type", "rule"), CASES)
def test_every_rule_rejects_a_bad_value_naming_the_key(name, instance_type, rule):
    recipe = _set(load_recipe(name), rule.path, _bad_value(rule))
    with pytest.raises(RecipeValidationError) as info:
        validate_recipe(recipe, name=name, instance_type=instance_type)
    messages = [v.message for v in info.value.violations if v.path == rule.path]
    assert messages, info.value
    assert messages[0].startswith(f"{rule.path}=")
    assert rule.path in str(info.value)


@pytest.mark.parametrize(("name", "instance_type", "rule"), [c for c in CASES if not c.values[2].optional])
def test_every_required_key_is_reported_when_missing(name, instance_type, rule):
    recipe = load_recipe(name)
    *parents, last = rule.path.split(".")
    node = recipe
    for part in parents:
        node = node[part]
    del node[last]
    with pytest.raises(RecipeValidationError, match=f"{rule.path} is missing"):
        validate_recipe(recipe, name=name, instance_type=instance_type)


def _relaxed_value(rule: Rule):
    strict, relaxed = rule.bounds, rule.relaxed
    if relaxed.allowed is not None:
        return next(v for v in relaxed.allowed if v not in strict.allowed)
    if relaxed.maximum is not None and (strict.maximum is None or relaxed.maximum > strict.maximum):
        return relaxed.maximum
    return relaxed.minimum


RELAXABLE = [c for c in CASES if c.values[2].relaxed is not None]


def test_the_documented_conflicts_are_relaxable():
    relaxable = {c.values[2].path for c in RELAXABLE}
    assert relaxable >= {
        BETA,
        "training_config.model.optim.sched.warmup_steps",
        "training_config.global_batch_size",
        "training_config.model.peft.lora_tuning.loraplus_lr_ratio",
        "training_config.trainer.max_epochs",
        "run.replicas",
    }


@pytest.mark.parametrize(("name", "instance_type", "rule"), RELAXABLE)
def test_relaxed_mode_accepts_the_wider_source_with_a_warning(name, instance_type, rule, caplog):
    value = _relaxed_value(rule)
    recipe = _set(load_recipe(name), rule.path, value)
    with pytest.raises(RecipeValidationError, match="relaxed=True") as info:
        validate_recipe(recipe, name=name, instance_type=instance_type)
    assert [v.path for v in info.value.violations] == [rule.path]
    with caplog.at_level(logging.WARNING, logger="nova_dpo.recipes"):
        warnings = validate_recipe(recipe, name=name, instance_type=instance_type, relaxed=True)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{rule.path}=")
    assert rule.path in caplog.text


def test_relaxed_mode_still_rejects_values_beyond_the_wider_range():
    recipe = _set(load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), BETA, 0.7)
    with pytest.raises(RecipeValidationError) as info:
        validate_recipe(recipe, relaxed=True)
    assert "relaxed=True" not in str(info.value)


def test_beta_message_says_what_to_fix():
    recipe = _set(load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), BETA, 0.3)
    with pytest.raises(RecipeValidationError) as info:
        validate_recipe(recipe)
    (violation,) = info.value.violations
    assert violation.message.startswith(f"{BETA}=0.3 is above the maximum 0.1 (")
    assert "set 0.001–0.1" in violation.message
    assert "or relax to 0.001–0.5" in violation.message


def test_every_violation_is_reported_at_once():
    recipe = load_recipe("nova_lite_1_0_p5_p4d_gpu_lora_dpo")
    for path, value in [
        (BETA, 0.9),
        ("run.replicas", 3),
        ("training_config.max_length", 1000),
        ("training_config.global_batch_size", 100),
        ("training_config.model.peft.lora_tuning.alpha", 48),
        ("training_config.model.optim.name", "adam"),
    ]:
        _set(recipe, path, value)
    with pytest.raises(RecipeValidationError) as info:
        validate_recipe(recipe)
    assert len(info.value.violations) == 6
    assert isinstance(info.value, ValueError)


def test_max_length_depends_on_the_instance_type():
    recipe = _set(load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), "training_config.max_length", 32768)
    assert validate_recipe(recipe, instance_type="ml.p5.48xlarge") == []
    with pytest.raises(RecipeValidationError, match="above the maximum 16384"):
        validate_recipe(recipe, instance_type="ml.p4d.24xlarge")
    g5 = _set(load_recipe("nova_micro_1_0_g5_g6_12x_gpu_lora_dpo"), "training_config.max_length", 8192)
    with pytest.raises(RecipeValidationError, match="above the maximum 4096"):
        validate_recipe(g5)


def test_min_lr_must_stay_below_lr():
    recipe = _set(load_recipe("nova_pro_1_0_p5_gpu_dpo"), "training_config.model.optim.sched.min_lr", 1e-5)
    with pytest.raises(
        RecipeValidationError, match=r"min_lr=1e-05 must be below training_config.model.optim.lr"
    ):
        validate_recipe(recipe)


def test_full_rank_recipe_must_not_have_lora_tuning():
    recipe = load_recipe("nova_micro_1_0_p5_p4d_gpu_dpo")
    recipe["training_config"]["model"]["peft"]["lora_tuning"] = {"alpha": 64}
    with pytest.raises(RecipeValidationError) as info:
        validate_recipe(recipe)
    messages = "\n".join(v.message for v in info.value.violations)
    assert "full-rank recipe" in messages
    assert "nova_micro_1_0_p5_p4d_gpu_lora_dpo" in messages


def test_custom_lora_recipe_switched_to_full_rank_keeps_its_lora_block_and_fails():
    recipe = _set(
        load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), "training_config.model.peft.peft_scheme", None
    )
    assert base_recipe_for(recipe) == "nova_micro_1_0_p5_p4d_gpu_dpo"
    with pytest.raises(RecipeValidationError, match="full-rank recipe"):
        validate_recipe(recipe)


def test_llm_judge_takes_no_max_new_tokens():
    recipe = _set(load_recipe("nova_micro_1_0_p5_48xl_gpu_llm_judge_eval"), "inference.max_new_tokens", 512)
    with pytest.raises(RecipeValidationError, match="not available for LLM-as-a-judge"):
        validate_recipe(recipe, name="nova_micro_1_0_p5_48xl_gpu_llm_judge_eval")


def test_unknown_keys_in_a_recipe_file_fail_unless_relaxed():
    recipe = _set(
        load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), "training_config.model.dpo_cfg.gamma", 1.0
    )
    with pytest.raises(RecipeValidationError, match=r"dpo_cfg.gamma is not a key of recipe"):
        validate_recipe(recipe)
    assert any("gamma" in w for w in validate_recipe(recipe, relaxed=True))


def test_booleans_are_not_numbers():
    recipe = _set(load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo"), "run.replicas", True)
    with pytest.raises(RecipeValidationError, match=r"run.replicas=True must be an integer"):
        validate_recipe(recipe)


def test_evaluation_model_may_be_an_s3_checkpoint_of_the_same_model_only():
    name = "nova_lite_1_0_p5_48xl_gpu_bring_your_own_dataset_eval"
    ok = resolve_recipe(name, {"run.model_name_or_path": "s3://customer-escrow-111122223333-smtj-abc/run"})
    assert ok.config["run"]["model_name_or_path"].startswith("s3://")
    with pytest.raises(RecipeValidationError, match="'nova-lite/prod' or the s3:// URI"):
        resolve_recipe(name, {"run.model_name_or_path": "nova-micro/prod"})


def test_recipes_of_other_kinds_are_rejected():
    with pytest.raises(ValueError, match=r"not a Nova 1.0 model type"):
        validate_recipe({"run": {"model_type": "amazon.nova-2-lite-v1:0:256k"}})
    micro = load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo")
    del micro["training_config"]["model"]["dpo_cfg"]
    with pytest.raises(ValueError, match="not a Nova DPO or evaluation recipe"):
        validate_recipe(micro)
    judge = _set(load_recipe("nova_micro_1_0_p5_48xl_gpu_llm_judge_eval"), "evaluation.task", "mmlu")
    with pytest.raises(ValueError, match="gen_qa and llm_judge"):
        validate_recipe(judge)


def test_custom_recipe_on_an_instance_type_its_kind_never_runs_on():
    recipe = load_recipe("nova_pro_1_0_p5_p4d_gpu_lora_dpo")
    with pytest.raises(ValueError, match="does not run Nova pro lora recipes"):
        base_recipe_for(recipe, instance_type="ml.g5.12xlarge")


def _fits(schema, value):
    if "enum" in schema:
        return value in schema["enum"]
    if schema.get("type") == "array":
        return len(value) == schema["minItems"] and all(_fits(schema["items"], v) for v in value)
    return (
        schema.get("minimum", float("-inf")) <= value <= schema.get("maximum", float("inf"))
        and value > schema.get("exclusiveMinimum", float("-inf"))
        and ("multipleOf" not in schema or value % schema["multipleOf"] == 0)
    )


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_param_bounds_cover_every_rule_and_admit_the_defaults(name):
    bounds = param_bounds(name)
    recipe = load_recipe(name)
    assert set(bounds) == {rule.path for rule in rules_for(RECIPES[name])}
    missing = object()
    for path, schema in bounds.items():
        node = recipe
        for part in path.split("."):
            node = node.get(part, missing) if isinstance(node, dict) else missing
        if node is missing or "pattern" in schema or schema.get("type") in ("string", "boolean"):
            continue
        assert _fits(schema, node), (path, schema, node)


def test_param_bounds_follow_relaxed_mode_and_instance_type():
    name = "nova_pro_1_0_p5_p4d_gpu_lora_dpo"
    strict = param_bounds(name)
    assert strict[BETA]["minimum"] == 0.001
    assert strict[BETA]["maximum"] == 0.1
    assert strict["training_config.global_batch_size"]["enum"] == [16, 32, 64, 128]
    assert strict["run.replicas"]["enum"] == [6, 12, 24]
    assert strict["training_config.max_length"]["maximum"] == 32768
    relaxed = param_bounds(name, relaxed=True)
    assert relaxed[BETA]["maximum"] == 0.5
    assert relaxed["training_config.global_batch_size"]["enum"] == [16, 32, 64, 128, 256]
    assert (
        param_bounds(name, instance_type="ml.p4d.24xlarge")["training_config.max_length"]["maximum"] == 16384
    )


def test_param_bounds_accept_v1_names_and_describe_each_key():
    bounds = param_bounds("nova_micro_p5_gpu_lora_dpo")
    assert bounds["training_config.model.peft.lora_tuning.alpha"]["enum"] == [32, 64, 96, 128, 160, 192]
    assert all(schema["description"] for schema in bounds.values())
    assert bounds["training_config.model.optim.betas"]["type"] == "array"


def test_rules_are_data_not_shared_state():
    before = copy.deepcopy([(r.path, r.bounds) for r in RULES])
    for name in RECIPES:
        param_bounds(name, relaxed=True)
    assert before == [(r.path, r.bounds) for r in RULES]
