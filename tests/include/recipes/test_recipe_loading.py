import hashlib
import logging

import pytest
import yaml

from nova_dpo.catalog import RECIPES
from nova_dpo.recipes import (
    RECIPE_ALIASES,
    ResolvedRecipe,
    load_recipe,
    locate_recipe,
    resolve_recipe,
    shipped_recipes,
    validate_recipe,
)
from nova_dpo.recipes.yaml_io import load_yaml

SHIPPED = sorted(shipped_recipes())


def test_ships_the_ten_dpo_recipes_and_six_evaluation_recipes():
    assert set(SHIPPED) == set(RECIPES)
    assert sum(spec.task == "dpo" for spec in RECIPES.values()) == 10
    tasks = sorted((spec.model, spec.task) for spec in RECIPES.values() if spec.task != "dpo")
    assert tasks == sorted((m, t) for m in ("micro", "lite", "pro") for t in ("gen_qa", "llm_judge"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_loads_and_validates_strictly(name):
    recipe = load_recipe(name)
    assert validate_recipe(recipe, name=name) == []
    resolved = resolve_recipe(name)
    assert resolved.base_recipe == name
    assert resolved.warnings == ()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipe_reads_its_floats_as_floats(name):
    recipe = load_recipe(name)
    if RECIPES[name].task == "dpo":
        optim = recipe["training_config"]["model"]["optim"]
        assert optim["lr"] == 1e-5
        assert optim["eps"] == 1e-8
        assert optim["sched"]["min_lr"] == 1e-6
        assert recipe["training_config"]["model"]["dpo_cfg"]["beta"] == 0.1


@pytest.mark.parametrize("name", [n for n in SHIPPED if RECIPES[n].task == "dpo"])
def test_dpo_recipes_keep_the_aws_defaults(name):
    spec = RECIPES[name]
    recipe = load_recipe(name)
    config = recipe["training_config"]
    assert recipe["run"]["replicas"] == spec.counts.default
    assert config["max_length"] == (4096 if spec.instance_types[0].startswith("ml.g") else 16384)
    assert config["global_batch_size"] == (32 if spec.model == "pro" else 64)
    assert config["trainer"]["max_epochs"] == (2 if spec.method == "lora" else 3)
    peft = config["model"]["peft"]
    if spec.method == "lora":
        assert peft == {
            "peft_scheme": "lora",
            "lora_tuning": {"loraplus_lr_ratio": 20.0, "alpha": 64, "adapter_dropout": 0.01},
        }
    else:
        assert peft == {"peft_scheme": None}


def test_name_with_yaml_suffix_and_path_both_work(tmp_path):
    name = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
    by_name = load_recipe(name)
    assert load_recipe(f"{name}.yaml") == by_name
    assert load_recipe(shipped_recipes()[name]) == by_name
    copy = tmp_path / "mine.yaml"
    copy.write_text(yaml.safe_dump(by_name))
    assert load_recipe(str(copy)) == by_name
    assert locate_recipe(copy).shipped is False


@pytest.mark.parametrize(("old", "new"), sorted(RECIPE_ALIASES.items()))
@pytest.mark.parametrize(
    "form", ["{}", "fine-tuning/nova/{}", "recipes_collection/recipes/fine-tuning/nova/{}.yaml"]
)
def test_v1_names_map_to_their_v2_copies(old, new, form, caplog):
    with caplog.at_level(logging.WARNING):
        located = locate_recipe(form.format(old))
    assert located.name == new
    assert located.shipped
    assert new in caplog.text


def test_every_alias_points_at_a_shipped_recipe_of_the_same_model_and_method():
    for old, new in RECIPE_ALIASES.items():
        spec = RECIPES[new]
        assert f"nova_{spec.model}_" in old
        assert ("lora" in old) == (spec.method == "lora")


def test_unknown_named_recipe_suggests_a_path_and_lists_shipped_names():
    with pytest.raises(ValueError, match="pass the path to a YAML file") as info:
        load_recipe("fine-tuning/nova/nova_micro_p5_gpu_sft")
    assert "nova_micro_1_0_p5_p4d_gpu_lora_dpo" in str(info.value)


def test_missing_yaml_path_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recipe("no/such/recipe.yaml")


def test_a_recipe_file_must_hold_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="YAML mapping"):
        load_recipe(path)


def test_loader_reads_yaml_12_floats_like_omegaconf():
    data = load_yaml("a: 1e-5\nb: 1.0e-08\nc: 3\nd: true\ne: null\nf: '1e-5'\ng: -2E+3\n")
    assert data == {"a": 1e-5, "b": 1e-8, "c": 3, "d": True, "e": None, "f": "1e-5", "g": -2000.0}
    assert isinstance(data["c"], int)


def test_aws_style_recipe_file_with_unquoted_exponents_validates(tmp_path):
    text = shipped_recipes()["nova_pro_1_0_p5_gpu_dpo"].read_text()
    text = text.replace("lr: 1.0e-05", "lr: 1e-5").replace("min_lr: 1.0e-06", "min_lr: 1e-6")
    path = tmp_path / "nova_pro_custom.yaml"
    path.write_text(text)
    resolved = resolve_recipe(path)
    assert resolved.config["training_config"]["model"]["optim"]["lr"] == 1e-5
    assert resolved.base_recipe == "nova_pro_1_0_p5_gpu_dpo"


def test_custom_recipe_borrows_the_rules_of_the_matching_shipped_recipe(tmp_path):
    recipe = load_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo")
    path = tmp_path / "team_recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert resolve_recipe(path).base_recipe == "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
    on_g5 = resolve_recipe(
        path,
        {"run.replicas": 1, "training_config.max_length": 4096},
        instance_type="ml.g5.12xlarge",
    )
    assert on_g5.base_recipe == "nova_micro_1_0_g5_g6_12x_gpu_lora_dpo"
    assert on_g5.name == "team_recipe"


def test_resolved_recipe_fingerprint_is_the_sha256_of_its_canonical_yaml():
    resolved = resolve_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo", ["training_config.trainer.max_epochs=1"])
    assert isinstance(resolved, ResolvedRecipe)
    text = resolved.to_yaml()
    assert hashlib.sha256(text.encode()).hexdigest() == resolved.sha256
    assert load_yaml(text) == resolved.config
    assert resolved.spec is RECIPES["nova_micro_1_0_p5_p4d_gpu_lora_dpo"]


def test_fingerprint_is_stable_and_follows_the_content():
    first = resolve_recipe(
        "nova_micro_1_0_p5_p4d_gpu_lora_dpo", {"training_config": {"trainer": {"max_epochs": 1}}}
    )
    same = resolve_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo", ["training_config.trainer.max_epochs=1"])
    other = resolve_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo", ["training_config.trainer.max_epochs=2"])
    assert first.sha256 == same.sha256
    assert first.sha256 != other.sha256
    # the default max_epochs is 2, so overriding with it changes nothing
    assert other.sha256 == resolve_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo").sha256


def test_resolving_a_resolved_recipe_applies_more_overrides():
    first = resolve_recipe("nova_lite_1_0_p5_p4d_gpu_lora_dpo", ["training_config.model.dpo_cfg.beta=0.05"])
    second = resolve_recipe(first, ["run.replicas=8"])
    assert second.config["training_config"]["model"]["dpo_cfg"]["beta"] == 0.05
    assert second.config["run"]["replicas"] == 8
    assert first.config["run"]["replicas"] == 4


def test_resolve_logs_one_line_and_the_yaml_only_at_debug(caplog):
    with caplog.at_level(logging.INFO, logger="nova_dpo.recipes"):
        resolved = resolve_recipe("nova_pro_1_0_p5_48xl_gpu_llm_judge_eval")
    assert resolved.sha256[:12] in caplog.text
    assert "task: llm_judge" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="nova_dpo.recipes"):
        resolve_recipe("nova_pro_1_0_p5_48xl_gpu_llm_judge_eval")
    assert "task: llm_judge" in caplog.text
