import hashlib
import logging

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from nova_dpo import catalog
from nova_dpo.platforms.sagemaker_requests import (
    RECIPE_LOCAL_PATH,
    build_evaluation_request,
    build_training_request,
)
from nova_dpo.recipes import RecipeValidationError, load_recipe, resolve_recipe
from nova_dpo.recipes.yaml_io import load_yaml

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:nova-custom-metrics"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ESCROW = "s3://customer-escrow-123456789012-smtj-abc123/my-lora-run"


@pytest.fixture
def sagemaker():
    """A real SageMaker client whose calls never leave the process; Stubber checks every parameter."""
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def _send(sagemaker, request):
    client, stubber = sagemaker
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{request['TrainingJobName']}"
    stubber.add_response("create_training_job", {"TrainingJobArn": arn}, expected_params=request)
    assert client.create_training_job(**request)["TrainingJobArn"] == arn
    stubber.assert_no_pending_responses()


def _request(build, arguments):
    """``build`` called with a job name, role and output path that pass, and ``arguments`` over them."""
    common = {"job_name": "nova-dpo-train-1", "role": ROLE, "output_path": "s3://my-bucket/runs/abc/training"}
    return build(**(common | arguments))


def _training(**kwargs):
    data = {
        "training_recipe": "nova_micro_1_0_p5_p4d_gpu_lora_dpo",
        "train_uri": "s3://my-bucket/datasets/when2call/v1/0123456789ab/train.jsonl",
    }
    return _request(build_training_request, data | kwargs)


def _evaluation(**kwargs):
    data = {
        "training_recipe": "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval",
        "data_uri": "s3://b/gen_qa.jsonl",
    }
    return _request(build_evaluation_request, data | kwargs)


def _channels(request):
    return {c["ChannelName"]: c for c in request["InputDataConfig"]}


def test_lora_training_request_with_validation_kms_vpc_and_tags_is_a_valid_api_call(sagemaker):
    built = _training(
        validation_uri="s3://my-bucket/datasets/when2call/v1/0123456789ab/validation.jsonl",
        recipe_overrides=["training_config.trainer.max_epochs=1", "training_config.model.dpo_cfg.beta=0.05"],
        output_kms_key=KMS,
        volume_kms_key=KMS,
        subnets=["subnet-0abc", "subnet-0def"],
        security_group_ids=["sg-0123"],
        tags={"project": "nova-dpo", "run": "abc"},
        environment={"NCCL_DEBUG": "WARN"},
        max_run=432000,
    )
    request = built.request
    _send(sagemaker, request)

    assert request["AlgorithmSpecification"] == {
        "TrainingInputMode": "File",
        "TrainingImage": "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-DPO-latest",
    }
    channels = _channels(request)
    assert list(channels) == ["train", "validation", "recipe"]
    for name in ("train", "validation"):
        source = channels[name]["DataSource"]["S3DataSource"]
        assert source["S3DataType"] == "Converse"
        assert source["S3DataDistributionType"] == "FullyReplicated"
    assert channels["recipe"]["InputMode"] == "File"
    assert channels["recipe"]["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    assert built.upload.s3_uri.startswith(channels["recipe"]["DataSource"]["S3DataSource"]["S3Uri"])
    assert request["HyperParameters"] == {
        "model_type": "amazon.nova-micro-v1:0:128k",
        "base_model": "nova-micro/prod",
        "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
    }
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://my-bucket/runs/abc/training",
        "KmsKeyId": KMS,
    }
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": KMS,
    }
    assert request["VpcConfig"] == {
        "SecurityGroupIds": ["sg-0123"],
        "Subnets": ["subnet-0abc", "subnet-0def"],
    }
    assert request["Tags"] == [{"Key": "project", "Value": "nova-dpo"}, {"Key": "run", "Value": "abc"}]
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 432000}
    assert request["ProfilerConfig"] == {"DisableProfiler": True}
    assert request["RemoteDebugConfig"] == {"EnableRemoteDebug": False}


def test_the_uploaded_recipe_is_the_resolved_recipe():
    built = _training(recipe_overrides={"training_config.model.dpo_cfg.beta": 0.05})
    uri, body = built.upload
    assert uri == "s3://my-bucket/runs/abc/training/nova-dpo-train-1/input/recipe/recipe.yaml"
    assert RECIPE_LOCAL_PATH.endswith("/recipe/" + uri.rsplit("/", 1)[-1])
    assert hashlib.sha256(body).hexdigest() == built.recipe.sha256
    assert load_yaml(body.decode())["training_config"]["model"]["dpo_cfg"]["beta"] == 0.05


def test_recipe_folder_can_be_chosen():
    built = _training(recipe_s3_prefix="s3://other-bucket/recipes/run-1")
    assert built.upload.s3_uri == "s3://other-bucket/recipes/run-1/recipe.yaml"
    assert (
        _channels(built.request)["recipe"]["DataSource"]["S3DataSource"]["S3Uri"]
        == "s3://other-bucket/recipes/run-1/"
    )


@pytest.mark.parametrize(
    ("recipe", "instance_type", "count"),
    [
        ("nova_micro_1_0_p5_p4d_gpu_dpo", "ml.p4d.24xlarge", 4),
        ("nova_lite_1_0_p5_p4d_gpu_dpo", "ml.p5en.48xlarge", 8),
        ("nova_pro_1_0_p4d_gpu_dpo", None, None),
        ("nova_pro_1_0_p5_gpu_dpo", "ml.p5.48xlarge", 24),
    ],
)
def test_full_rank_training_request_is_a_valid_api_call(sagemaker, recipe, instance_type, count):
    built = _training(training_recipe=recipe, instance_type=instance_type, instance_count=count)
    _send(sagemaker, built.request)
    resources = built.request["ResourceConfig"]
    spec = catalog.RECIPES[recipe]
    assert resources["InstanceType"] == (instance_type or spec.default_instance_type)
    assert resources["InstanceCount"] == (count or spec.counts.default)
    assert built.recipe.config["run"]["replicas"] == resources["InstanceCount"]
    assert built.recipe.config["training_config"]["model"]["peft"] == {"peft_scheme": None}


@pytest.mark.parametrize(
    "recipe", ["nova_micro_1_0_g5_g6_12x_gpu_lora_dpo", "nova_lite_1_0_g5_g6_48x_gpu_lora_dpo"]
)
def test_single_instance_recipes_default_to_their_g5_instance(sagemaker, recipe):
    built = _training(training_recipe=recipe)
    _send(sagemaker, built.request)
    assert built.request["ResourceConfig"]["InstanceType"].startswith("ml.g5.")
    assert built.request["ResourceConfig"]["InstanceCount"] == 1


def test_escrow_checkpoint_becomes_base_model_location():
    built = _training(recipe_overrides={"run.model_name_or_path": ESCROW})
    assert built.request["HyperParameters"] == {
        "model_type": "amazon.nova-micro-v1:0:128k",
        "base_model_location": ESCROW,
        "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
    }


GEN_QA_IMAGE = "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-V2-latest"
JUDGE_IMAGE = "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-latest"


@pytest.mark.parametrize(
    ("recipe", "file_name", "model_type", "image"),
    [
        (
            "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval",
            "gen_qa.jsonl",
            "amazon.nova-micro-v1:0:128k",
            GEN_QA_IMAGE,
        ),
        (
            "nova_lite_1_0_p5_48xl_gpu_llm_judge_eval",
            "llm_judge.jsonl",
            "amazon.nova-lite-v1:0:300k",
            JUDGE_IMAGE,
        ),
        (
            "nova_pro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval",
            "gen_qa.jsonl",
            "amazon.nova-pro-v1:0:300k",
            GEN_QA_IMAGE,
        ),
    ],
)
def test_evaluation_request_is_a_valid_api_call(sagemaker, recipe, file_name, model_type, image):
    data_uri = f"s3://my-bucket/runs/abc/eval/{file_name}"
    built = build_evaluation_request(
        job_name="nova-dpo-eval-1",
        training_recipe=recipe,
        role=ROLE,
        output_path="s3://my-bucket/runs/abc/eval-output",
        data_uri=data_uri,
        model_name_or_path=ESCROW,
        instance_type="ml.p5.48xlarge",
        output_kms_key=KMS,
        tags=[{"Key": "step", "Value": "evaluate"}],
    )
    request = built.request
    _send(sagemaker, request)
    assert request["AlgorithmSpecification"]["TrainingImage"] == image
    channels = _channels(request)
    assert list(channels) == ["train", "recipe"]
    assert channels["train"]["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix",
        "S3Uri": data_uri,
        "S3DataDistributionType": "FullyReplicated",
    }
    assert request["HyperParameters"] == {
        "model_type": model_type,
        "base_model_location": ESCROW,
        "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
    }
    assert built.recipe.config["run"]["model_name_or_path"] == ESCROW
    assert request["ResourceConfig"]["InstanceCount"] == 1


def test_evaluation_of_the_base_model_uses_base_model(sagemaker):
    built = build_evaluation_request(
        job_name="nova-dpo-eval-base",
        training_recipe="nova_micro_1_0_p5_48xl_gpu_llm_judge_eval",
        role=ROLE,
        output_path="s3://my-bucket/out",
        data_uri="s3://my-bucket/eval/",
        instance_type="ml.g5.24xlarge",
    )
    _send(sagemaker, built.request)
    assert built.request["HyperParameters"]["base_model"] == "nova-micro/prod"


# SageMaker Python SDK 2.x, aws/sagemaker-python-sdk v2.257.6 src/sagemaker/pytorch/estimator.py,
# PyTorch._setup_for_nova_recipe:
#     if recipe.get("evaluation", {}):
#         processor = recipe.get("processor", {})
#         lambda_arn = processor.get("lambda_arn", "")
#         if lambda_arn:
#             args["hyperparameters"]["eval_lambda_arn"] = lambda_arn
def test_a_custom_metrics_lambda_goes_as_eval_lambda_arn(sagemaker):
    built = _evaluation(
        recipe_overrides={"processor.lambda_arn": LAMBDA, "processor.lambda_type": "custom_metrics"}
    )
    _send(sagemaker, built.request)
    assert built.request["HyperParameters"] == {
        "model_type": "amazon.nova-micro-v1:0:128k",
        "base_model": "nova-micro/prod",
        "eval_lambda_arn": LAMBDA,
        "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
    }
    assert built.recipe.config["processor"]["lambda_arn"] == LAMBDA


def test_an_empty_lambda_arn_sends_no_eval_lambda_arn():
    built = _evaluation()
    assert built.recipe.config["processor"]["lambda_arn"] == ""
    assert "eval_lambda_arn" not in built.request["HyperParameters"]


# ... and, a few lines above in the same method:
#     model_type = run_config.get("model_type")
#     args["hyperparameters"]["model_type"] = model_type
@pytest.mark.parametrize("recipe", sorted(catalog.RECIPES))
def test_every_recipe_sends_its_model_type(recipe):
    spec = catalog.RECIPES[recipe]
    if spec.task == "dpo":
        built = _training(training_recipe=recipe)
    else:
        built = _evaluation(training_recipe=recipe, data_uri=f"s3://b/{spec.task}.jsonl")
    assert built.request["HyperParameters"]["model_type"] == catalog.MODELS[spec.model].model_type
    assert built.request["HyperParameters"]["model_type"] == built.recipe.config["run"]["model_type"]


def test_evaluation_data_file_must_have_the_task_name():
    with pytest.raises(ValueError, match=r"exactly gen_qa.jsonl"):
        _evaluation(data_uri="s3://b/eval/test.jsonl")


def test_training_and_evaluation_recipes_are_not_interchangeable():
    with pytest.raises(ValueError, match="use build_evaluation_request"):
        _training(training_recipe="nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval")
    with pytest.raises(ValueError, match="use build_training_request"):
        _evaluation(training_recipe="nova_micro_1_0_p5_p4d_gpu_dpo")


def test_instance_type_the_recipe_does_not_allow_is_an_error_that_names_a_recipe_that_does():
    with pytest.raises(ValueError, match="not allowed for recipe nova_micro_1_0_p5_p4d_gpu_lora_dpo") as info:
        _training(instance_type="ml.g5.12xlarge")
    assert "ml.p5.48xlarge, ml.p4d.24xlarge, ml.p5en.48xlarge" in str(info.value)
    assert "nova_micro_1_0_g5_g6_12x_gpu_lora_dpo runs on it" in str(info.value)
    with pytest.raises(ValueError, match="not allowed for recipe nova_pro_1_0_p5_48xl_gpu_llm_judge_eval"):
        _evaluation(
            training_recipe="nova_pro_1_0_p5_48xl_gpu_llm_judge_eval",
            data_uri="s3://b/llm_judge.jsonl",
            instance_type="ml.g5.12xlarge",
        )


def test_instance_count_the_recipe_does_not_allow_is_an_error():
    with pytest.raises(ValueError, match=r"instance_count=3 is not allowed .* use one of 2, 4, 8"):
        _training(instance_count=3)
    with pytest.raises(ValueError, match=r"instance_count=2 is not allowed .* or relax to 2, 4, 8, 16"):
        _training(training_recipe="nova_lite_1_0_p5_p4d_gpu_lora_dpo", instance_count=2)


def test_relaxed_mode_allows_the_wider_documented_instance_counts(caplog):
    with caplog.at_level(logging.WARNING):
        built = _training(training_recipe="nova_lite_1_0_p5_p4d_gpu_lora_dpo", instance_count=2, relaxed=True)
    assert built.request["ResourceConfig"]["InstanceCount"] == 2
    assert built.recipe.warnings
    assert "run.replicas=2" in caplog.text


def test_run_replicas_and_instance_count_stay_equal():
    assert _training(instance_count=8).recipe.config["run"]["replicas"] == 8
    from_override = _training(recipe_overrides=["run.replicas=4"])
    assert from_override.request["ResourceConfig"]["InstanceCount"] == 4
    assert (
        _training(recipe_overrides=["run.replicas=4"], instance_count=4).recipe.config["run"]["replicas"] == 4
    )
    with pytest.raises(ValueError, match=r"disagrees with run.replicas=4"):
        _training(recipe_overrides=["run.replicas=4"], instance_count=8)
    with pytest.raises(RecipeValidationError, match=r"run.replicas=3"):
        _training(recipe_overrides=["run.replicas=3"])


def test_recipe_ranges_of_the_instance_type_are_checked():
    with pytest.raises(RecipeValidationError, match="max_length=32768 is above the maximum 16384"):
        _training(instance_type="ml.p4d.24xlarge", recipe_overrides=["training_config.max_length=32768"])
    assert _training(instance_type="ml.p5.48xlarge", recipe_overrides=["training_config.max_length=32768"])


def test_custom_recipe_file_is_matched_to_the_instance_type(tmp_path, sagemaker):
    path = tmp_path / "team_micro_lora.yaml"
    path.write_text(resolve_recipe("nova_micro_1_0_g5_g6_12x_gpu_lora_dpo").to_yaml())
    built = _training(training_recipe=str(path), instance_type="ml.g6.12xlarge")
    _send(sagemaker, built.request)
    assert built.recipe.base_recipe == "nova_micro_1_0_g5_g6_12x_gpu_lora_dpo"
    assert built.recipe.name == "team_micro_lora"
    with pytest.raises(ValueError, match="does not run Nova micro lora recipes"):
        _training(training_recipe=str(path), instance_type="ml.g5.24xlarge")


def test_a_resolved_recipe_can_be_passed_in():
    resolved = resolve_recipe("nova_micro_1_0_p5_p4d_gpu_lora_dpo", ["training_config.trainer.max_epochs=1"])
    built = _training(training_recipe=resolved, instance_count=4)
    assert built.recipe.config["training_config"]["trainer"]["max_epochs"] == 1
    assert built.recipe.config["run"]["replicas"] == 4


def test_image_comes_from_the_region_unless_given():
    assert _training(region="ap-northeast-1").request["AlgorithmSpecification"]["TrainingImage"] == (
        "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-DPO-latest"
    )
    with pytest.raises(ValueError, match="supported regions: us-east-1, us-west-2, ap-northeast-1"):
        _training(region="eu-central-1")
    custom = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/nova:mine"
    assert (
        _training(region="eu-central-1", image_uri=custom).request["AlgorithmSpecification"]["TrainingImage"]
        == custom
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_name": "bad_name"}, "letters, digits and hyphens"),
        ({"job_name": "x" * 64}, "letters, digits and hyphens"),
        ({"role": "SageMakerRole"}, "ARN of an IAM role"),
        ({"output_path": "/tmp/out"}, "output_path must be an s3:// URI"),
        ({"train_uri": "file:///data/train.jsonl"}, "train_uri must be an s3:// URI"),
        ({"validation_uri": "validation.jsonl"}, "validation_uri must be an s3:// URI"),
        ({"subnets": ["subnet-1"]}, "both subnets and security_group_ids"),
        ({"max_run": 0}, "max_run must be a positive number"),
        ({"instance_count": 0}, "instance_count must be a positive integer"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _training(**kwargs)


def test_named_recipe_that_is_not_shipped_is_an_error_suggesting_a_path():
    with pytest.raises(ValueError, match="pass the path to a YAML file"):
        _training(training_recipe="fine-tuning/nova/nova_micro_p5_gpu_sft")


def test_old_sdk_sample_recipe_name_resolves_to_its_v2_copy():
    built = _training(training_recipe="fine-tuning/nova/nova_micro_p5_gpu_lora_dpo")
    assert built.recipe.name == "nova_micro_1_0_p5_p4d_gpu_lora_dpo"


# catalog


def test_catalog_instance_types_are_sagemaker_training_instance_types_with_prices():
    enum = (
        botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType").enum
    )
    types = {t for spec in catalog.RECIPES.values() for t in spec.instance_types}
    assert types <= set(enum)
    assert types == set(catalog.ON_DEMAND_USD_PER_HOUR)


def test_catalog_counts_default_to_an_allowed_count_and_match_the_recipes():
    for name, spec in catalog.RECIPES.items():
        assert spec.counts.allowed is None or spec.counts.default in spec.counts.allowed
        assert load_recipe(name)["run"]["replicas"] == spec.counts.default


# Each default image, pinned to the AWS source it comes from (the comments of nova_dpo.catalog.IMAGES quote them).
EXPECTED_IMAGES = [
    # aws/sagemaker-hyperpod-recipes launcher/recipe_templatization/nova/nova_regional_parameters.json,
    # nova_{micro,lite,pro}_1_0_*_dpo, sm_jobs.container_image.prod.
    ("dpo", "us-east-1", "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-DPO-latest"),
    ("dpo", "us-west-2", "176779409107.dkr.ecr.us-west-2.amazonaws.com/nova-fine-tune-repo:SM-TJ-DPO-latest"),
    (
        "dpo",
        "ap-northeast-1",
        "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-DPO-latest",
    ),
    # The same file, nova_{micro,lite,pro}_1_0_p5_48xl_gpu_bring_your_own_dataset_eval.
    ("gen_qa", "us-east-1", GEN_QA_IMAGE),
    (
        "gen_qa",
        "us-west-2",
        "176779409107.dkr.ecr.us-west-2.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-V2-latest",
    ),
    (
        "gen_qa",
        "ap-northeast-1",
        "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-V2-latest",
    ),
    # aws/nova-forge-sdk src/amzn_nova_forge/util/recipe.py, get_hub_recipe_metadata, for LLM_JUDGE on SMTJ:
    #     image_infix = "SM-HP-" if platform == Platform.SMHP else "SM-TJ-"
    #     image_suffix = "Eval-V2-latest" if model.version == Version.TWO else "Eval-latest"
    ("llm_judge", "us-east-1", JUDGE_IMAGE),
    (
        "llm_judge",
        "us-west-2",
        "176779409107.dkr.ecr.us-west-2.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-latest",
    ),
    (
        "llm_judge",
        "ap-northeast-1",
        "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-latest",
    ),
]


@pytest.mark.parametrize(("task", "region", "image"), EXPECTED_IMAGES)
def test_catalog_image_of_each_task_and_region(task, region, image):
    assert catalog.image_uri_for(task, "1.0", region) == image


def test_catalog_has_an_image_for_every_shipped_recipe_in_every_region():
    assert {(task, region) for task, region, _ in EXPECTED_IMAGES} == {
        (spec.task, region) for spec in catalog.RECIPES.values() for region in catalog.SUPPORTED_REGIONS
    }
    assert {spec.generation for spec in catalog.RECIPES.values()} == {"1.0"}


def test_catalog_refuses_images_it_does_not_know():
    with pytest.raises(ValueError, match="supported regions"):
        catalog.image_uri_for("gen_qa", "1.0", "mars-north-1")
    with pytest.raises(ValueError, match=r"no Nova image for llm_judge on Nova 2\.0"):
        catalog.image_uri_for("llm_judge", "2.0", "us-east-1")


def test_cost_estimate():
    assert catalog.estimate_cost_usd("ml.g5.12xlarge", 2, 1800) == pytest.approx(7.09)
    with pytest.raises(ValueError, match="priced instance types"):
        catalog.hourly_price_usd("ml.t3.medium")
    with pytest.raises(ValueError, match="known recipes"):
        catalog.recipe_spec("nope")
