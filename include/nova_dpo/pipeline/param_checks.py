"""Checks of a run's params that make a bad run fail in ``resolve_run``, before anything is paid for.

Two layers. Each param is validated against the JSON schema of its trigger-form field (the same schema the
form uses, so a run triggered through the REST API or the CLI is held to what the form enforces). Then the
rules a schema cannot say: split ratios that sum to 1 and leave a test split, gate rules on metrics that
exist, a storage root the platform can use, local options the local platform knows. Every error names the
param to fix.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from typing import Any

from nova_dpo.pipeline.params import param_definitions

# Keys of a param definition that are not JSON schema (Airflow's form reads them).
_FORM_KEYS = frozenset({"default", "description", "section", "title", "description_md", "values_display"})
_RATIO_TOLERANCE = 1e-6


class PlanError(ValueError):
    """The params cannot make a run; the message says which param to fix."""


def checked_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every param, the form's default where one is missing, each valid for its form field.

    :raises PlanError: for an unknown param or a value its field refuses.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    definitions = param_definitions()
    unknown = sorted(set(params) - set(definitions))
    if unknown:
        raise PlanError(
            f"unknown param(s) {', '.join(unknown)}: check the spelling; the params are "
            f"{', '.join(sorted(definitions))}"
        )
    values = {name: params.get(name, definition.get("default")) for name, definition in definitions.items()}
    for name, definition in definitions.items():
        schema = {key: value for key, value in definition.items() if key not in _FORM_KEYS}
        error = best_match(Draft202012Validator(schema).iter_errors(values[name]))
        if error is not None:
            where = "".join(f"[{part!r}]" for part in error.absolute_path)
            raise PlanError(f"param {name}{where}={error.instance!r:.120}: {error.message:.300}")
    return values


def check_split_ratios(ratios: list[float]) -> tuple[float, float, float]:
    """Train, validation and test shares that sum to 1, with something to train on and to test on."""
    train, validation, test = (float(share) for share in ratios)
    total = train + validation + test
    if not math.isclose(total, 1.0, abs_tol=_RATIO_TOLERANCE):
        raise PlanError(f"param split_ratios={list(ratios)} must sum to 1 (they sum to {total:g})")
    if train <= 0 or test <= 0:
        raise PlanError(
            f"param split_ratios={list(ratios)} must give training (first) and test (last) a share above 0: "
            "the test prompts are the evaluation set"
        )
    return train, validation, test


def check_storage_root(platform: str, root: str, *, source: str = "param storage_root") -> str:
    """A storage root the platform can use: ``s3://bucket/prefix`` on an object-storage platform (SageMaker),
    an absolute folder on a local one.

    :param source: what the root came from, for the message (the param, or an environment variable).
    """
    from nova_dpo.platforms.factory import platform_traits

    if platform_traits(platform).object_storage:
        if not root.startswith("s3://") or not root[len("s3://") :].split("/")[0]:
            raise PlanError(f"{source}={root!r} must be an s3://bucket/prefix URI on the {platform} platform")
        _check_no_parent_parts(source, root[len("s3://") :])
        return root.rstrip("/")
    path = root[len("file://") :] if root.startswith("file://") else root
    if "://" in path:
        raise PlanError(f"{source}={root!r} must be a local folder on the {platform} platform, not a URI")
    if not posixpath.isabs(path):
        raise PlanError(f"{source}={root!r} must be an absolute folder (e.g. /data/nova-dpo)")
    _check_no_parent_parts(source, path)
    return posixpath.normpath(path)


def _check_no_parent_parts(source: str, path: str) -> None:
    if ".." in path.split("/"):
        raise PlanError(f"{source}={path!r} must not contain '..': name the folder itself")


def check_gate_metrics(rules: Any) -> None:
    """Every metric a gate rule names is one the evaluation reports (a typo would make the rule moot)."""
    from nova_dpo.evaluation.names import reported_metrics

    known = reported_metrics()
    named = {
        "min_relative_gain": list(rules.min_relative_gain),
        "max_relative_regression": list(rules.max_relative_regression),
        "no_significant_loss": list(rules.no_significant_loss),
        "watched_metrics": list(rules.watched_metrics),
    }
    for rule, metrics in named.items():
        unknown = sorted(set(metrics) - known)
        if unknown:
            raise PlanError(
                f"param gate.{rule} names metric(s) the evaluation does not report: {', '.join(unknown)}; "
                f"the metrics are {', '.join(sorted(known))}"
            )


def check_base_model(name: str) -> str:
    """A local base model: a built-in name, a Hub id, or an absolute model folder."""
    if name.startswith(("/", ".", "~")):
        if not posixpath.isabs(name):
            raise PlanError(f"param base_model={name!r}: a model folder must be an absolute path")
        _check_no_parent_parts("param base_model", name)
    return name


def check_local_training_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``local_options`` as the local trainer will read them (unknown keys and bad values refused)."""
    from nova_dpo.platforms.local.local_config import LocalTrainingOptions

    try:
        LocalTrainingOptions.from_dict(dict(options))
    except (TypeError, ValueError) as err:
        raise PlanError(f"param local_options: {err}") from err
    return dict(options)


def check_evaluation_options(options: Mapping[str, Any], judge_model: str | None) -> dict[str, Any]:
    """``eval_local_options`` as the local platform will read them, with ``judge_model``.

    The judge is not among them: an endpoint comes only from ``judge_conn_id``, an Airflow connection, so a
    run cannot point a worker (and its credentials or data) at a host of its choosing.
    """
    from nova_dpo.platforms.local.local_config import LocalEvaluationOptions

    if "judge" in options:
        raise PlanError(
            "param eval_local_options: 'judge' cannot be set in a run; a judge endpoint is an Airflow "
            "connection named by judge_conn_id"
        )
    chosen = {**options, **({"judge_model": judge_model} if judge_model else {})}
    try:
        LocalEvaluationOptions.from_dict(chosen)
    except (TypeError, ValueError) as err:
        raise PlanError(f"param eval_local_options: {err}") from err
    return chosen
