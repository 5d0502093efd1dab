"""What AWS offers for Nova 1.0 customization on SageMaker training jobs: data, one place for each fact.

Sources (see the project's reference notes): the SageMaker HyperPod recipes repository
(``launcher/recipe_templatization/nova/nova_metadata.json`` for instance types,
``nova_regional_parameters.json`` for images, the recipe files for replica sets), the Nova Forge SDK for the
LLM-judge image, the AWS "Fine-tune Nova 1.0" and "Direct Preference Optimization (DPO)" guides for
instance counts, and the Amazon Bedrock user guide for the regions that import and serve the trained models.

The recipe validator (``nova_dpo.recipes.ranges``) builds its ``run.replicas`` rules from
:data:`RECIPES`, and the request builder checks instance types and counts against it, so a count is
written down once. It imports nothing from the project, so the recipes, the platforms and the pipeline can all
read it: it is the bottom layer (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["dpo", "gen_qa", "llm_judge"]
Method = Literal["lora", "full"]

# The registry of the Nova training-job images in each region that has them: HPR HEAD
# ``nova_regional_parameters.json`` gives every Nova 1.0 DPO and evaluation recipe's ``sm_jobs`` image in these
# three. eu-central-1 and eu-west-2 appeared in an earlier revision and were removed, so they are not offered.
IMAGE_REGISTRIES: dict[str, str] = {
    "us-east-1": "708977205387.dkr.ecr.us-east-1.amazonaws.com",
    "us-west-2": "176779409107.dkr.ecr.us-west-2.amazonaws.com",
    "ap-northeast-1": "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com",
}
SUPPORTED_REGIONS: tuple[str, ...] = tuple(IMAGE_REGISTRIES)

# Where Amazon Bedrock takes a SageMaker-trained Nova model, which need not be where it was trained: the
# pipeline's Bedrock calls have a region of their own (env NOVA_DPO_BEDROCK_REGION, checked in resolve_run).
# - Import (CreateCustomModel): the Bedrock user guide, "Import a SageMaker AI-trained Amazon Nova model"
#   (docs.aws.amazon.com/bedrock/latest/userguide/create-custom-model-from-existing.html): by API only, in
#   US East (N. Virginia) only (the project's reference notes, nova-facts.md §5). Provisioned throughput serves
#   an imported model in the region it was imported to, so a full-rank model is served there too.
# - On-demand deployment (CreateCustomModelDeployment, for LoRA models): the Bedrock user guide, "Deploy a
#   custom model for on-demand inference" (docs.aws.amazon.com/bedrock/latest/userguide/
#   deploy-custom-model-on-demand.html): "You can deploy a custom model for on-demand inference in the
#   following Regions: US East (N. Virginia)", base models Nova Lite, Micro and Pro.
# The Nova guide's "Nova Forge Region Availability" says the same of US West (Oregon): "Amazon Bedrock
# inference is not available in US West (Oregon) ... copy your model to US East (N. Virginia)".
BEDROCK_IMPORT_REGIONS: tuple[str, ...] = ("us-east-1",)
BEDROCK_ON_DEMAND_REGIONS: tuple[str, ...] = ("us-east-1",)

# The image (repository:tag) that runs a recipe, by (task, model generation). Nova 2.0 has no entry: the
# project ships Nova 1.0 recipes only, and recipe validation refuses a Nova 2.0 model_type.
IMAGES: dict[tuple[Task, str], str] = {
    # HPR nova_regional_parameters.json, nova_{micro,lite,pro}_1_0_*_dpo: sm_jobs.container_image.prod.
    ("dpo", "1.0"): "nova-fine-tune-repo:SM-TJ-DPO-latest",
    # HPR nova_regional_parameters.json, nova_{micro,lite,pro}_1_0_p5_48xl_gpu_bring_your_own_dataset_eval:
    # sm_jobs.container_image.prod. The Nova Forge SDK takes gen_qa's image from the same recipe metadata
    # (SageMakerPublicHub's SmtjImageUri).
    ("gen_qa", "1.0"): "nova-evaluation-repo:SM-TJ-Eval-V2-latest",
    # HPR lists no image for the *_llm_judge_eval recipes. aws/nova-forge-sdk
    # src/amzn_nova_forge/util/recipe.py, get_hub_recipe_metadata, builds the judge's image itself:
    # `image_suffix = "Eval-V2-latest" if model.version == Version.TWO else "Eval-latest"` with the infix
    # "SM-TJ-" on SageMaker training jobs, so Nova 1.0 judges on SM-TJ-Eval-latest (its test
    # test_get_hub_recipe_metadata_evaluation_image_uri_smtj_v1 pins it for Nova Lite). The SDK knows no
    # ap-northeast-1 registry: there the registry is HPR's and the tag the SDK's.
    ("llm_judge", "1.0"): "nova-evaluation-repo:SM-TJ-Eval-latest",
}


@dataclass(frozen=True)
class NovaModel:
    """A Nova model as the recipes name it, and its generation (``"1.0"``), which picks images."""

    key: str
    model_type: str
    base_model: str
    generation: str


MODELS: dict[str, NovaModel] = {
    "micro": NovaModel("micro", "amazon.nova-micro-v1:0:128k", "nova-micro/prod", "1.0"),
    "lite": NovaModel("lite", "amazon.nova-lite-v1:0:300k", "nova-lite/prod", "1.0"),
    "pro": NovaModel("pro", "amazon.nova-pro-v1:0:300k", "nova-pro/prod", "1.0"),
}


@dataclass(frozen=True)
class InstanceCounts:
    """How many instances a recipe runs on (its ``run.replicas``).

    ``allowed`` None means any positive count. ``relaxed_allowed`` is the wider set a second AWS source
    documents; it is accepted only in relaxed mode, with a warning.
    """

    default: int
    allowed: tuple[int, ...] | None
    source: str
    relaxed_allowed: tuple[int, ...] | None = None
    relaxed_source: str | None = None


@dataclass(frozen=True)
class RecipeSpec:
    """A Nova recipe the project ships: what it trains or evaluates, and on which instances."""

    name: str
    model: str
    task: Task
    method: Method | None
    instance_types: tuple[str, ...]
    counts: InstanceCounts

    @property
    def default_instance_type(self) -> str:
        return self.instance_types[0]

    @property
    def generation(self) -> str:
        return MODELS[self.model].generation


_P5_P4D = ("ml.p5.48xlarge", "ml.p4d.24xlarge", "ml.p5en.48xlarge")
_G5_G6_12X = ("ml.g5.12xlarge", "ml.g6.12xlarge")
_G5_G6_48X = ("ml.g5.48xlarge", "ml.g6.48xlarge")
_EVAL_MICRO = ("ml.p5.48xlarge", "ml.g5.12xlarge", "ml.g5.24xlarge", "ml.g6.12xlarge", "ml.g6.24xlarge")
_EVAL_LITE = (*_EVAL_MICRO, "ml.g6.48xlarge")

_RECIPE_SOURCE = "the AWS recipe and the Nova 1.0 guide"
_MICRO_P5 = InstanceCounts(2, (2, 4, 8), _RECIPE_SOURCE)
# The Nova DPO guide lists "2, 4, 8, 16" for Lite; the recipe and the fine-tuning guide say 4, 8, 16.
_LITE_P5 = InstanceCounts(
    4, (4, 8, 16), _RECIPE_SOURCE, relaxed_allowed=(2, 4, 8, 16), relaxed_source="the Nova DPO guide"
)
_PRO_P5 = InstanceCounts(6, (6, 12, 24), _RECIPE_SOURCE)
_PRO_P4D = InstanceCounts(12, (12, 24), "the AWS recipe nova_pro_1_0_p4d_gpu_dpo")
_SINGLE = InstanceCounts(1, (1,), _RECIPE_SOURCE)
# Evaluation recipes say replicas is "modifiable for SageMaker training jobs" and document no set.
_EVAL = InstanceCounts(1, None, "the AWS evaluation recipe (replicas modifiable, no documented set)")


def _dpo(name: str, model: str, method: Method, types: tuple[str, ...], counts: InstanceCounts) -> RecipeSpec:
    return RecipeSpec(name, model, "dpo", method, types, counts)


def _evaluation(name: str, model: str, task: Task, types: tuple[str, ...]) -> RecipeSpec:
    return RecipeSpec(name, model, task, None, types, _EVAL)


# Order matters where several recipes fit a custom YAML: the first match is used (see
# nova_dpo.recipes.validation.base_recipe_for), so the p5/p4d recipes come before the g5/g6 ones.
RECIPES: dict[str, RecipeSpec] = {
    spec.name: spec
    for spec in (
        _dpo("nova_micro_1_0_p5_p4d_gpu_lora_dpo", "micro", "lora", _P5_P4D, _MICRO_P5),
        _dpo("nova_micro_1_0_p5_p4d_gpu_dpo", "micro", "full", _P5_P4D, _MICRO_P5),
        _dpo("nova_micro_1_0_g5_g6_12x_gpu_lora_dpo", "micro", "lora", _G5_G6_12X, _SINGLE),
        _dpo("nova_micro_1_0_g5_g6_48x_gpu_lora_dpo", "micro", "lora", _G5_G6_48X, _SINGLE),
        _dpo("nova_lite_1_0_p5_p4d_gpu_lora_dpo", "lite", "lora", _P5_P4D, _LITE_P5),
        _dpo("nova_lite_1_0_p5_p4d_gpu_dpo", "lite", "full", _P5_P4D, _LITE_P5),
        _dpo("nova_lite_1_0_g5_g6_48x_gpu_lora_dpo", "lite", "lora", _G5_G6_48X, _SINGLE),
        _dpo("nova_pro_1_0_p5_p4d_gpu_lora_dpo", "pro", "lora", _P5_P4D, _PRO_P5),
        _dpo("nova_pro_1_0_p5_gpu_dpo", "pro", "full", ("ml.p5.48xlarge", "ml.p5en.48xlarge"), _PRO_P5),
        _dpo("nova_pro_1_0_p4d_gpu_dpo", "pro", "full", ("ml.p4d.24xlarge",), _PRO_P4D),
        _evaluation("nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval", "micro", "gen_qa", _EVAL_MICRO),
        _evaluation("nova_micro_1_0_p5_48xl_gpu_llm_judge_eval", "micro", "llm_judge", _EVAL_MICRO),
        _evaluation("nova_lite_1_0_p5_48xl_gpu_bring_your_own_dataset_eval", "lite", "gen_qa", _EVAL_LITE),
        _evaluation("nova_lite_1_0_p5_48xl_gpu_llm_judge_eval", "lite", "llm_judge", _EVAL_LITE),
        _evaluation(
            "nova_pro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval", "pro", "gen_qa", ("ml.p5.48xlarge",)
        ),
        _evaluation("nova_pro_1_0_p5_48xl_gpu_llm_judge_eval", "pro", "llm_judge", ("ml.p5.48xlarge",)),
    )
}

# On-demand SageMaker training prices in USD per instance-hour, us-east-1 public list prices as of
# 2025-07 (after the June 2025 P4/P5 price reduction). They are estimates for cost reports and budgets,
# not a bill: prices change, differ by region, and savings plans or spot capacity lower them.
# ml.p5en.48xlarge was not in the price lists we could check: its figure is a rough guess (about 15% above
# ml.p5.48xlarge); replace it with the current list price before relying on it.
PRICES_AS_OF = "2025-07"
PRICE_REGION = "us-east-1"
ON_DEMAND_USD_PER_HOUR: dict[str, float] = {
    "ml.p5.48xlarge": 63.296,
    "ml.p5en.48xlarge": 72.79,
    "ml.p4d.24xlarge": 25.2513,
    "ml.g5.12xlarge": 7.09,
    "ml.g5.24xlarge": 10.18,
    "ml.g5.48xlarge": 20.36,
    "ml.g6.12xlarge": 5.752,
    "ml.g6.24xlarge": 8.344,
    "ml.g6.48xlarge": 16.688,
}


def image_uri_for(task: Task, generation: str, region: str) -> str:
    """The image that runs a recipe of ``task`` for a model of ``generation`` (``"1.0"``) in ``region``."""
    if region not in IMAGE_REGISTRIES:
        raise ValueError(
            f"Nova training-job images are not published in region {region!r}; "
            f"supported regions: {', '.join(SUPPORTED_REGIONS)}. Pass image_uri to use another image."
        )
    try:
        return f"{IMAGE_REGISTRIES[region]}/{IMAGES[task, generation]}"
    except KeyError:
        raise ValueError(
            f"no Nova image for {task} on Nova {generation} models; known: "
            f"{', '.join(f'{t} on {g}' for t, g in IMAGES)}. Pass image_uri to use another image."
        ) from None


def recipe_spec(name: str) -> RecipeSpec:
    """The catalog entry of a shipped recipe."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(
            f"no catalog entry for recipe {name!r}; known recipes: {', '.join(RECIPES)}"
        ) from None


def hourly_price_usd(instance_type: str) -> float:
    """The estimated on-demand price of one ``instance_type`` for one hour (see :data:`PRICES_AS_OF`)."""
    try:
        return ON_DEMAND_USD_PER_HOUR[instance_type]
    except KeyError:
        raise ValueError(
            f"no price for {instance_type!r}; priced instance types: {', '.join(ON_DEMAND_USD_PER_HOUR)}"
        ) from None


def estimate_cost_usd(instance_type: str, instance_count: int, seconds: float) -> float:
    """Estimated on-demand cost of ``instance_count`` instances billed for ``seconds`` each."""
    return hourly_price_usd(instance_type) * instance_count * seconds / 3600.0
