import copy

import pytest

from nova_dpo.recipes import RecipeOverrideError, apply_overrides, load_recipe
from nova_dpo.recipes.overrides import combine_overrides, parse_override

BETA = "training_config.model.dpo_cfg.beta"


@pytest.fixture
def recipe():
    return load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo")


def _beta(recipe):
    return recipe["training_config"]["model"]["dpo_cfg"]["beta"]


def test_nested_mapping_merges_without_dropping_siblings(recipe):
    result = apply_overrides(recipe, {"training_config": {"model": {"dpo_cfg": {"beta": 0.05}}}})
    assert _beta(result) == 0.05
    assert result["training_config"]["model"]["optim"] == recipe["training_config"]["model"]["optim"]
    assert result["run"] == recipe["run"]


def test_original_recipe_is_not_changed(recipe):
    before = copy.deepcopy(recipe)
    apply_overrides(recipe, [f"{BETA}=0.05", "training_config.model.optim.betas=[0.8, 0.9]"])
    assert recipe == before


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.05", 0.05),
        ("1e-5", 1e-5),
        ("3", 3),
        ("true", True),
        ("null", None),
        ("[0.9, 0.95]", [0.9, 0.95]),
        ("nova-micro/prod", "nova-micro/prod"),
        ("s3://bucket/escrow/run", "s3://bucket/escrow/run"),
        ("", ""),
        ("'42'", "42"),
    ],
)
def test_dotted_values_are_parsed_as_yaml_scalars(text, value):
    assert parse_override(f"a.b={text}") == {"a.b": value}


def test_value_may_contain_equals_signs():
    assert parse_override("run.name=a=b") == {"run.name": "a=b"}


@pytest.mark.parametrize("bad", ["no-equals-sign", "=5", "  =1"])
def test_malformed_override_says_how_it_should_look(bad):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_override(bad)


def test_later_overrides_win(recipe):
    result = apply_overrides(recipe, [f"{BETA}=0.05", {BETA: 0.02}, f"{BETA}=0.03"])
    assert _beta(result) == 0.03
    result = apply_overrides(
        recipe, [f"{BETA}=0.03", {"training_config": {"model": {"dpo_cfg": {"beta": 0.04}}}}]
    )
    assert _beta(result) == 0.04


def test_dotted_keys_work_inside_mappings(recipe):
    result = apply_overrides(recipe, {"training_config": {"model.dpo_cfg.beta": 0.07}, "run.replicas": 4})
    assert _beta(result) == 0.07
    assert result["run"]["replicas"] == 4


def test_single_string_and_none(recipe):
    assert _beta(apply_overrides(recipe, f"{BETA}=0.06")) == 0.06
    assert apply_overrides(recipe, None) == recipe


def test_combine_overrides_keeps_order():
    layers = combine_overrides({"a": 1}, None, ["b=2", {"c": 3}], "d=4")
    assert layers == [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]


def test_unknown_key_names_it_and_the_closest_valid_key(recipe):
    with pytest.raises(RecipeOverrideError) as info:
        apply_overrides(recipe, ["training_config.model.dpo_cfg.betta=0.1"])
    message = str(info.value)
    assert "'training_config.model.dpo_cfg.betta'" in message
    assert "did you mean 'training_config.model.dpo_cfg.beta'" in message


def test_every_unknown_key_is_reported(recipe):
    with pytest.raises(RecipeOverrideError) as info:
        apply_overrides(recipe, {"run.replica": 2, "training_config": {"max_lenght": 2048}, "zzz.qqq": 1})
    problems = info.value.problems
    assert len(problems) == 3
    assert "did you mean 'run.replicas'" in problems[0]
    assert "did you mean 'training_config.max_length'" in problems[1]
    assert "'zzz'" in problems[2]
    assert "keys at that level" in problems[2]


def test_unknown_key_error_is_a_value_error(recipe):
    with pytest.raises(ValueError, match="unknown recipe key"):
        apply_overrides(recipe, {"training_config.model.peft.lora_tuning.rank": 8})


def test_keys_a_full_rank_recipe_lacks_cannot_be_added():
    full = load_recipe("nova_micro_1_0_p5_p4d_gpu_dpo")
    with pytest.raises(RecipeOverrideError, match="lora_tuning"):
        apply_overrides(full, ["training_config.model.peft.lora_tuning.alpha=32"])


def test_a_section_cannot_be_replaced_by_a_value_nor_a_value_by_a_section(recipe):
    with pytest.raises(RecipeOverrideError, match="is a section"):
        apply_overrides(recipe, ["training_config.model.dpo_cfg=0.1"])
    with pytest.raises(RecipeOverrideError, match="is a value, not a section"):
        apply_overrides(recipe, {BETA: {"value": 0.1}})


def test_override_beneath_a_value_is_unknown(recipe):
    with pytest.raises(RecipeOverrideError, match=f"unknown recipe key '{BETA}.x'"):
        apply_overrides(recipe, [f"{BETA}.x=1"])


def test_non_string_non_mapping_override_is_a_type_error(recipe):
    with pytest.raises(TypeError):
        apply_overrides(recipe, [42])
