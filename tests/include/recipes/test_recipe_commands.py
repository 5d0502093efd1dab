import argparse
import hashlib
import json

import pytest

from nova_dpo import cli
from nova_dpo.commands import recipes as commands
from nova_dpo.recipes.yaml_io import load_yaml


def _run(argv):
    parser = argparse.ArgumentParser(prog="nova-dpo")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_recipe_commands_are_registered_with_the_cli():
    assert "nova_dpo.commands.recipes" in cli.COMMAND_MODULES


def test_show_recipe_prints_the_yaml_and_its_sha256(capsys):
    assert (
        _run(
            [
                "show-recipe",
                "nova_micro_1_0_p5_p4d_gpu_lora_dpo",
                "-o",
                "training_config.trainer.max_epochs=1",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert load_yaml(out)["training_config"]["trainer"]["max_epochs"] == 1
    assert f"sha256 {hashlib.sha256(out.encode()).hexdigest()}" in err


def test_show_recipe_bounds_prints_json_schema(capsys):
    assert _run(["show-recipe", "nova_pro_1_0_p5_gpu_dpo", "--bounds", "--relaxed"]) == 0
    bounds = json.loads(capsys.readouterr().out)
    assert bounds["training_config.model.dpo_cfg.beta"]["maximum"] == 0.5


def test_show_recipe_rejects_out_of_range_overrides():
    with pytest.raises(ValueError, match=r"beta=0.9 is above the maximum"):
        _run(
            [
                "show-recipe",
                "nova_micro_1_0_p5_p4d_gpu_lora_dpo",
                "-o",
                "training_config.model.dpo_cfg.beta=0.9",
            ]
        )


def test_render_training_request_prints_the_request(capsys):
    code = _run(
        [
            "render-training-request",
            "--recipe",
            "fine-tuning/nova/nova_micro_p5_gpu_lora_dpo",
            "--override",
            "training_config.trainer.max_epochs=1",
            "--job-name",
            "nova-dpo-job-1",
            "--role-arn",
            "arn:aws:iam::123456789012:role/SageMakerRole",
            "--train-uri",
            "s3://my-bucket/data/train.jsonl",
            "--validation-uri",
            "s3://my-bucket/data/validation.jsonl",
            "--output-uri",
            "s3://my-bucket/out/",
            "--region",
            "us-west-2",
            "--instance-count",
            "4",
            "--tag",
            "team=ml",
        ]
    )
    assert code == 0
    out, err = capsys.readouterr()
    request = json.loads(out)
    assert request["TrainingJobName"] == "nova-dpo-job-1"
    assert request["AlgorithmSpecification"]["TrainingImage"].startswith("176779409107.dkr.ecr.us-west-2")
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation", "recipe"]
    assert request["ResourceConfig"]["InstanceCount"] == 4
    assert request["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert "would be uploaded to s3://my-bucket/out/nova-dpo-job-1/input/recipe/recipe.yaml" in err


def test_render_training_request_rejects_a_bad_tag():
    with pytest.raises(SystemExit):
        _run(
            [
                "render-training-request",
                "--recipe",
                "x",
                "--job-name",
                "j",
                "--role-arn",
                "r",
                "--train-uri",
                "t",
                "--output-uri",
                "o",
                "--tag",
                "no-equals",
            ]
        )
