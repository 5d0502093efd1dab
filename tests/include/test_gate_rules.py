import json
import os
import subprocess
import sys
from pathlib import Path

from nova_dpo import gate, gate_rules
from nova_dpo.evaluation import stats
from nova_dpo.evaluation.names import (
    BEHAVIOUR_ACCURACY_PREFIX,
    OUTCOME_MIX_PREFIX,
    TOOL_ERROR_RATES,
    TOOL_USE_METRICS,
    reported_metrics,
)
from nova_dpo.evaluation.results import STDERR_SUFFIX
from nova_dpo.evaluation.tool_metrics import Expectation, aggregate_tool_use, score_tool_use

REPO = Path(__file__).resolve().parents[2]


def test_rules_and_params_import_none_of_the_gate_numerics():
    # What the DAG file imports at parse time: the rules and the trigger-form params, never the gate itself.
    script = (
        "import json, sys\n"
        "from nova_dpo.pipeline.params import param_definitions\n"
        "param_definitions()\n"
        "heavy = ('numpy', 'nltk', 'rouge_score', 'sacrebleu', 'nova_dpo.gate')\n"
        "print(json.dumps([name for name in heavy if name in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "include")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == []


def test_gate_rules_are_importable_from_the_gate():
    assert gate.GateRules is gate_rules.GateRules


def test_rule_defaults_are_the_bootstrap_defaults():
    rules = gate_rules.GateRules()
    assert (rules.resamples, rules.seed) == (stats.DEFAULT_RESAMPLES, stats.DEFAULT_SEED)


def test_tool_use_metric_names_are_what_the_tool_metrics_report():
    due = Expectation("tool_call", [{"name": "get_weather", "arguments": {}}])
    rows = [
        score_tool_use('{"name": "get_weather", "parameters": {}}', due, {"get_weather"}),
        score_tool_use('{"name": "get_weather", "parameters": {}}', Expectation("cannot_answer"), set()),
    ]
    reported = {
        name
        for name in aggregate_tool_use(rows)
        if not name.endswith(STDERR_SUFFIX)
        and not name.startswith((BEHAVIOUR_ACCURACY_PREFIX, OUTCOME_MIX_PREFIX))
    }
    assert reported == {*TOOL_USE_METRICS, *TOOL_ERROR_RATES}
    assert reported <= reported_metrics()
