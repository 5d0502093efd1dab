"""``nova-dpo compare`` end to end with the tiny random model: both models generate, all three policies are scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_dpo import cli
from nova_dpo.evaluation.policy_comparison import ALWAYS_CALL

OOD_SET = Path(__file__).resolve().parents[3] / "data" / "ood" / "gen_qa.jsonl"


@pytest.mark.slow
def test_compare_scores_the_tuned_model_the_base_model_and_always_call(
    tiny_model_dir: Path, tmp_path: Path, capsys
):
    code = cli.main(
        [
            "compare",
            "--model",
            str(tiny_model_dir),
            "--baseline",
            str(tiny_model_dir),
            "--data",
            str(OOD_SET),
            "--out",
            str(tmp_path),
            "--max-rows",
            "4",
            "--max-new-tokens",
            "8",
            "--dtype",
            "float32",
        ]
    )

    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert set(comparison["metrics"]) == {"tuned", "base", ALWAYS_CALL}
    # The same random model on both sides: the tuned one is never better than the base.
    verdict = {check["check"]: check["passed"] for check in comparison["verdict"]}
    assert not all(verdict.values())
    assert code == 1
    for name in ("tuned", "base"):
        assert len((tmp_path / name / "inference_output.jsonl").read_text().splitlines()) == 4
    printed = capsys.readouterr().out
    assert "| behaviour_accuracy |" in printed
    assert "FAIL" in printed
