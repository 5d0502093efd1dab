import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nova_dpo import cli
from nova_dpo.evaluation.gen_qa_metrics import compute_gen_qa_metrics, read_inference_output
from nova_dpo.evaluation.results import GEN_QA_TASK, read_results

LINES = [
    {"prompt": "Hi", "inference": ["Which city do you mean?"], "gold": "Which city?", "metadata": ""},
    {"prompt": "Hey", "inference": ["The tools cannot do that."], "gold": "The tools cannot do that."},
]


@pytest.fixture
def only_evaluation_commands(monkeypatch):
    # The CLI round trip must not depend on other areas' command modules.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("nova_dpo.commands.evaluation",))


@pytest.mark.usefixtures("only_evaluation_commands")
def test_metrics_command_round_trip(tmp_path, capsys):
    inference = tmp_path / "inference_output.jsonl"
    inference.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    out = tmp_path / "eval_results" / "results.json"

    assert cli.main(["metrics", "--inference", str(inference), "--out", str(out), "--model-name", "m"]) == 0

    parsed = read_results(out)
    expected = compute_gen_qa_metrics(read_inference_output(inference))
    assert parsed.task == GEN_QA_TASK
    assert parsed.metrics == pytest.approx(expected.metrics)
    assert parsed.per_example == json.loads(json.dumps(expected.per_example))
    assert parsed.config["model_name"] == "m"
    assert parsed.config["num_examples"] == 2
    printed = capsys.readouterr().out
    assert "exact_match" in printed
    assert "0.5000" in printed


@pytest.mark.usefixtures("only_evaluation_commands")
def test_metrics_command_reports_a_missing_file(tmp_path):
    assert (
        cli.main(["metrics", "--inference", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r.json")])
        == 2
    )


def test_evaluation_imports_neither_airflow_nor_torch():
    modules = [
        "nova_dpo.commands.evaluation",
        *(f"nova_dpo.evaluation.{m}" for m in ("gen_qa_metrics", "judge_protocol", "judge_stats", "results")),
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "heavy = sorted(m for m in ('airflow', 'torch', 'transformers') if m in sys.modules)\n"
        + "assert not heavy, heavy\n"
    )
    include = str(Path(cli.__file__).parents[1])
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": include})
