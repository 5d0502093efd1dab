"""The allowed values of every Nova recipe key, as one table of data.

Each :class:`Rule` names a key path, the value type, the bounds or the allowed set, and where AWS
documents it. Rules may be scoped to models, tasks, LoRA or full rank, named recipes or instance types;
for each key the first rule in :data:`RULES` whose scope fits wins, so specific rules come before
general ones. Where two AWS sources disagree, ``bounds`` holds the stricter range and ``relaxed`` the
wider one, accepted only in relaxed mode and with a warning.

Sources: the recipe files and HPR's template parameters (``nova_recipe_template_parameters.json``) in
aws/sagemaker-hyperpod-recipes, the SageMaker "Fine-tune Nova 1.0" guide ("Nova 1.0 guide" below) and
the Nova "Direct Preference Optimization (DPO)" guide ("Nova DPO guide"), the evaluation guide
("Evaluating your SageMaker AI-trained model"). The DAG's trigger form gets its bounds from here
through :func:`nova_dpo.recipes.validation.param_bounds`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from nova_dpo.catalog import MODELS, RECIPES, RecipeSpec

Kind = Literal["int", "number", "str", "bool", "list", "any"]


def format_value(value: Any) -> str:
    """A value as messages show it: floats in short form (``1e-05``), None as ``null``, strings quoted."""
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Bounds:
    """A numeric range (bounds inclusive unless ``exclusive_minimum``), an allowed set, or both."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    allowed: tuple[Any, ...] | None = None
    multiple_of: int | None = None

    def describe(self) -> str:
        """The bounds in words: ``0.001–0.1``, ``one of 16, 32, 64``, ``≥ 1``, ``a multiple of 1024 in 1024–4096``."""
        if self.allowed is not None and len(self.allowed) == 1:
            return format_value(self.allowed[0])
        if self.allowed is not None:
            return "one of " + ", ".join(format_value(v) for v in self.allowed)
        if self.minimum is not None and self.maximum is not None:
            text = (
                f"({format_value(self.minimum)}, {format_value(self.maximum)}]"
                if self.exclusive_minimum
                else f"{format_value(self.minimum)}–{format_value(self.maximum)}"
            )
        elif self.minimum is not None:
            text = f"{'>' if self.exclusive_minimum else '≥'} {format_value(self.minimum)}"
        elif self.maximum is not None:
            text = f"≤ {format_value(self.maximum)}"
        else:
            text = "any value"
        return f"a multiple of {self.multiple_of} in {text}" if self.multiple_of else text

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of bounds (``"is above the maximum 0.1"``), or None when it fits."""
        if self.allowed is not None:
            # bool is an int in Python: keep True from matching 1.
            if not any(value == a and type(value) is type(a) for a in self.allowed):
                return "is not allowed"
            return None
        if self.minimum is not None:
            if self.exclusive_minimum and value <= self.minimum:
                return f"must be above {format_value(self.minimum)}"
            if not self.exclusive_minimum and value < self.minimum:
                return f"is below the minimum {format_value(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"is above the maximum {format_value(self.maximum)}"
        if self.multiple_of and value % self.multiple_of:
            return f"is not a multiple of {self.multiple_of}"
        return None

    def json_schema(self) -> dict[str, Any]:
        """The bounds as JSON-schema keywords (``enum`` or ``minimum``/``maximum``/...)."""
        if self.allowed is not None:
            return {"enum": list(self.allowed)}
        schema: dict[str, Any] = {}
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.multiple_of:
            schema["multipleOf"] = self.multiple_of
        return schema


@dataclass(frozen=True)
class Scope:
    """Which recipes a rule is for; None in a field means any. ``instance_types`` rules apply only when
    the instance type is known (the request builder passes it)."""

    recipes: frozenset[str] | None = None
    models: frozenset[str] | None = None
    tasks: frozenset[str] | None = None
    methods: frozenset[str] | None = None
    instance_types: frozenset[str] | None = None

    def matches(self, spec: RecipeSpec, instance_type: str | None) -> bool:
        if self.instance_types is not None and instance_type not in self.instance_types:
            return False
        return (
            (self.recipes is None or spec.name in self.recipes)
            and (self.models is None or spec.model in self.models)
            and (self.tasks is None or spec.task in self.tasks)
            and (self.methods is None or spec.method in self.methods)
        )


def scope(**fields: Any) -> Scope:
    """A :class:`Scope` from iterables, e.g. ``scope(tasks=["dpo"], methods=["lora"])``."""
    return Scope(**{key: frozenset(value) for key, value in fields.items()})


@dataclass(frozen=True)
class Rule:
    """The allowed values of one key path (for the recipes in ``scope``)."""

    path: str
    kind: Kind
    source: str
    bounds: Bounds = field(default_factory=Bounds)
    relaxed: Bounds | None = None
    relaxed_source: str | None = None
    scope: Scope = field(default_factory=Scope)
    optional: bool = False
    pattern: str | None = None
    pattern_hint: str | None = None
    length: int | None = None

    def type_problem(self, value: Any) -> str | None:
        """Why ``value`` has the wrong type for this rule, or None."""
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        expected = {
            "int": ("an integer", isinstance(value, int) and not isinstance(value, bool)),
            "number": ("a number", is_number and math.isfinite(value)),
            "str": ("a string", isinstance(value, str)),
            "bool": ("true or false", isinstance(value, bool)),
            "list": (f"a list of {self.length} numbers", isinstance(value, list | tuple)),
            "any": ("", True),
        }[self.kind]
        return None if expected[1] else f"must be {expected[0]}"


ANY_DPO = scope(tasks=["dpo"])
LORA = scope(tasks=["dpo"], methods=["lora"])
FULL_RANK = scope(tasks=["dpo"], methods=["full"])
EVALUATION = scope(tasks=["gen_qa", "llm_judge"])
GEN_QA = scope(tasks=["gen_qa"])
LLM_JUDGE = scope(tasks=["llm_judge"])
# The DPO recipes for single g5/g6 instances: shorter context, smaller global batches.
G5_G6_DPO = scope(
    recipes=[
        spec.name
        for spec in RECIPES.values()
        if spec.task == "dpo" and all(t.startswith("ml.g") for t in spec.instance_types)
    ]
)

_RECIPE = "the AWS recipe"
_NOVA_GUIDE = "Nova 1.0 guide"
_DPO_GUIDE = "Nova DPO guide"
_TEMPLATE = "HPR template parameters"
_EVAL_GUIDE = "Nova evaluation guide"
_UNIT = Bounds(0.0, 1.0)


def _model_rules() -> Iterator[Rule]:
    for model in MODELS.values():
        in_model = scope(models=[model.key])
        yield Rule(
            "run.model_type",
            "str",
            f"{_RECIPE}: do not change",
            Bounds(allowed=(model.model_type,)),
            scope=in_model,
        )
        yield Rule(
            "run.model_name_or_path",
            "str",
            _RECIPE,
            scope=in_model,
            pattern=rf"^(?:{re.escape(model.base_model)}|s3://\S+)$",
            pattern_hint=f"{model.base_model!r} or the s3:// URI of a checkpoint of this model",
        )


def _replica_rules() -> Iterator[Rule]:
    # Instance counts are catalog data; run.replicas must be one of them.
    for spec in RECIPES.values():
        counts = spec.counts
        bounds = Bounds(allowed=counts.allowed) if counts.allowed is not None else Bounds(minimum=1)
        relaxed = Bounds(allowed=counts.relaxed_allowed) if counts.relaxed_allowed else None
        yield Rule(
            "run.replicas",
            "int",
            counts.source,
            bounds,
            relaxed=relaxed,
            relaxed_source=counts.relaxed_source,
            scope=scope(recipes=[spec.name]),
        )


def _max_length_rules() -> Iterator[Rule]:
    path = "training_config.max_length"
    p4d = f"{_RECIPE} for p4d"
    yield Rule(
        path,
        "int",
        p4d,
        Bounds(1024, 16384, multiple_of=1024),
        scope=scope(tasks=["dpo"], instance_types=["ml.p4d.24xlarge"]),
    )
    yield Rule(
        path,
        "int",
        p4d,
        Bounds(1024, 16384, multiple_of=1024),
        scope=scope(recipes=["nova_pro_1_0_p4d_gpu_dpo"]),
    )
    yield Rule(path, "int", f"{_RECIPE} for g5/g6", Bounds(1024, 4096, multiple_of=1024), scope=G5_G6_DPO)
    yield Rule(
        path, "int", f"{_RECIPE} and {_NOVA_GUIDE}", Bounds(1024, 32768, multiple_of=1024), scope=ANY_DPO
    )


def _global_batch_rules() -> Iterator[Rule]:
    path = "training_config.global_batch_size"
    all_sizes = Bounds(allowed=(16, 32, 64, 128, 256))
    yield Rule(
        path,
        "int",
        f"{_RECIPE} for g5/g6",
        Bounds(allowed=(16, 32, 64)),
        relaxed=all_sizes,
        relaxed_source=f"{_NOVA_GUIDE} DPO table",
        scope=G5_G6_DPO,
    )
    yield Rule(
        path,
        "int",
        f"{_RECIPE} and {_DPO_GUIDE} for Pro",
        Bounds(allowed=(16, 32, 64, 128)),
        relaxed=all_sizes,
        relaxed_source=f"{_NOVA_GUIDE} DPO table",
        scope=scope(tasks=["dpo"], models=["pro"]),
    )
    yield Rule(path, "int", f"{_RECIPE} and {_NOVA_GUIDE}", all_sizes, scope=ANY_DPO)


_OPTIM = "training_config.model.optim"
_LORA = "training_config.model.peft.lora_tuning"

RULES: tuple[Rule, ...] = (
    # run
    Rule("run.name", "str", _RECIPE, pattern=r"^\S+$", pattern_hint="a non-empty name without spaces"),
    *_model_rules(),
    *_replica_rules(),
    Rule(
        "run.data_s3_path",
        "str",
        f"{_RECIPE}: leave empty for SageMaker training jobs (data comes through the train channel)",
        Bounds(allowed=("",)),
        scope=EVALUATION,
        optional=True,
    ),
    Rule("run.data_s3_path", "str", _RECIPE, optional=True),
    Rule(
        "run.output_s3_path",
        "str",
        f"{_RECIPE}: HyperPod only, not compatible with SageMaker training jobs",
        Bounds(allowed=("",)),
        optional=True,
    ),
    Rule("run.mlflow_tracking_uri", "str", _RECIPE, optional=True),
    Rule("run.mlflow_experiment_name", "str", _RECIPE, optional=True),
    Rule("run.mlflow_run_name", "str", _RECIPE, optional=True),
    # training_config
    *_max_length_rules(),
    *_global_batch_rules(),
    Rule(
        "training_config.trainer.max_epochs",
        "int",
        f"{_NOVA_GUIDE} DPO table",
        Bounds(1, 5),
        relaxed=Bounds(1, 100),
        relaxed_source=_TEMPLATE,
        scope=ANY_DPO,
    ),
    Rule("training_config.model.hidden_dropout", "number", _RECIPE, _UNIT, scope=ANY_DPO),
    Rule("training_config.model.attention_dropout", "number", _RECIPE, _UNIT, scope=ANY_DPO),
    Rule("training_config.model.ffn_dropout", "number", _RECIPE, _UNIT, scope=ANY_DPO),
    Rule(
        f"{_OPTIM}.lr",
        "number",
        f"{_NOVA_GUIDE} and {_TEMPLATE}",
        Bounds(0.0, 1.0, exclusive_minimum=True),
        scope=ANY_DPO,
    ),
    Rule(
        f"{_OPTIM}.name",
        "str",
        f"{_RECIPE}: do not change",
        Bounds(allowed=("distributed_fused_adam",)),
        scope=ANY_DPO,
    ),
    Rule(f"{_OPTIM}.adam_w_mode", "bool", _RECIPE, scope=ANY_DPO),
    Rule(f"{_OPTIM}.eps", "number", f"{_NOVA_GUIDE} DPO table", Bounds(1e-10, 1e-6), scope=ANY_DPO),
    Rule(f"{_OPTIM}.weight_decay", "number", _TEMPLATE, _UNIT, scope=ANY_DPO),
    Rule(f"{_OPTIM}.betas", "list", _RECIPE, _UNIT, scope=ANY_DPO, length=2),
    Rule(
        f"{_OPTIM}.sched.warmup_steps",
        "int",
        f"{_NOVA_GUIDE} DPO table",
        Bounds(1, 20),
        relaxed=Bounds(0, 100),
        relaxed_source=f"{_DPO_GUIDE} (0–20) and {_TEMPLATE} (0–100)",
        scope=ANY_DPO,
    ),
    Rule(f"{_OPTIM}.sched.constant_steps", "int", _RECIPE, Bounds(minimum=0), scope=ANY_DPO),
    Rule(
        f"{_OPTIM}.sched.min_lr",
        "number",
        _TEMPLATE,
        Bounds(1e-7, 1.0),
        relaxed=Bounds(0.0, 1.0),
        relaxed_source=f"{_DPO_GUIDE} (only min_lr < lr)",
        scope=ANY_DPO,
    ),
    Rule(
        "training_config.model.dpo_cfg.beta",
        "number",
        f"{_NOVA_GUIDE} DPO table and {_TEMPLATE}",
        Bounds(0.001, 0.1),
        relaxed=Bounds(0.001, 0.5),
        relaxed_source=f"{_DPO_GUIDE} and the recipe comment",
        scope=ANY_DPO,
    ),
    Rule(
        "training_config.model.peft.peft_scheme",
        "any",
        f"{_RECIPE}: LoRA recipe (use a full-rank recipe for null)",
        Bounds(allowed=("lora",)),
        scope=LORA,
    ),
    Rule(
        "training_config.model.peft.peft_scheme",
        "any",
        f"{_RECIPE}: full-rank recipe (use a LoRA recipe for lora)",
        Bounds(allowed=(None,)),
        scope=FULL_RANK,
    ),
    Rule(
        f"{_LORA}.loraplus_lr_ratio",
        "number",
        _TEMPLATE,
        Bounds(1.0, 70.0),
        relaxed=Bounds(0.0, 100.0),
        relaxed_source=f"{_NOVA_GUIDE} and the recipe comment",
        scope=LORA,
    ),
    Rule(
        f"{_LORA}.alpha",
        "int",
        f"{_RECIPE} and {_NOVA_GUIDE}",
        Bounds(allowed=(32, 64, 96, 128, 160, 192)),
        scope=LORA,
    ),
    Rule(f"{_LORA}.adapter_dropout", "number", _RECIPE, _UNIT, scope=LORA),
    # evaluation
    Rule("evaluation.task", "str", f"{_RECIPE}: do not change", Bounds(allowed=("gen_qa",)), scope=GEN_QA),
    Rule(
        "evaluation.task", "str", f"{_RECIPE}: do not change", Bounds(allowed=("llm_judge",)), scope=LLM_JUDGE
    ),
    Rule(
        "evaluation.strategy", "str", f"{_RECIPE}: do not change", Bounds(allowed=("gen_qa",)), scope=GEN_QA
    ),
    Rule(
        "evaluation.strategy", "str", f"{_RECIPE}: do not change", Bounds(allowed=("judge",)), scope=LLM_JUDGE
    ),
    Rule("evaluation.metric", "str", f"{_RECIPE}: do not change", Bounds(allowed=("all",)), scope=EVALUATION),
    Rule("inference.max_new_tokens", "int", _EVAL_GUIDE, Bounds(minimum=1), scope=GEN_QA),
    Rule("inference.top_k", "int", f"{_EVAL_GUIDE} (-1 disables)", Bounds(minimum=-1), scope=EVALUATION),
    Rule(
        "inference.top_p", "number", _EVAL_GUIDE, Bounds(0.0, 1.0, exclusive_minimum=True), scope=EVALUATION
    ),
    Rule(
        "inference.temperature",
        "number",
        f"{_EVAL_GUIDE} (0 is deterministic)",
        Bounds(minimum=0.0),
        scope=EVALUATION,
    ),
    Rule("inference.top_logprobs", "int", _EVAL_GUIDE, Bounds(0, 20), scope=EVALUATION),
    Rule(
        "processor.lambda_arn",
        "str",
        _RECIPE,
        scope=EVALUATION,
        optional=True,
        pattern=r"^(?:|arn:aws[a-z-]*:lambda:\S+)$",
        pattern_hint="empty or a Lambda function ARN",
    ),
    Rule(
        "processor.lambda_type",
        "str",
        _RECIPE,
        Bounds(allowed=("rft", "custom_metrics")),
        scope=EVALUATION,
        optional=True,
    ),
    Rule("processor.preprocessing.enabled", "bool", _RECIPE, scope=EVALUATION, optional=True),
    Rule("processor.postprocessing.enabled", "bool", _RECIPE, scope=EVALUATION, optional=True),
    Rule("processor.aggregation", "str", _RECIPE, scope=EVALUATION, optional=True),
)


def rules_for(spec: RecipeSpec, instance_type: str | None = None) -> list[Rule]:
    """The rule that governs each key of recipes like ``spec`` (on ``instance_type``, when known)."""
    chosen: dict[str, Rule] = {}
    for rule in RULES:
        if rule.path not in chosen and rule.scope.matches(spec, instance_type):
            chosen[rule.path] = rule
    return list(chosen.values())
