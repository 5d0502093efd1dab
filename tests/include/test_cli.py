"""The command line's parser: cheap to build, so ``nova-dpo --help`` and every command start fast."""

import json
import os
import subprocess
import sys
from pathlib import Path

from nova_dpo import cli

INCLUDE = Path(cli.__file__).parents[1]
# What some command needs, and none should pay for unless it runs that command.
HEAVY = ("torch", "transformers", "rouge_score", "nltk", "pandas", "pyarrow", "boto3", "airflow")


def modules_after(*argv: str) -> dict:
    """Run ``python -m nova_dpo ARGV`` in a fresh interpreter; its exit code and the heavy modules it imported."""
    script = (
        "import json, runpy, sys\n"
        f"sys.argv = ['nova-dpo', *{list(argv)!r}]\n"
        "try:\n"
        "    runpy.run_module('nova_dpo', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"heavy = [name for name in {HEAVY!r} if name in sys.modules]\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(INCLUDE)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_help_imports_no_command_dependencies():
    assert modules_after("--help") == {"code": 0, "heavy": []}


def test_help_lists_every_command():
    help_text = cli.build_parser().format_help()
    for command in (
        "demo",
        "synthesize",
        "prepare",
        "validate",
        "show-recipe",
        "iam",
        "metrics",
        "train",
        "chat",
    ):
        assert command in help_text


def test_dtype_choices_are_the_generators():
    from nova_dpo.platforms.local.local_config import DTYPE_CHOICES

    subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command")
    for command in ("generate", "judge", "chat"):
        (dtype,) = (a for a in subparsers.choices[command]._actions if a.dest == "dtype")
        assert tuple(dtype.choices) == DTYPE_CHOICES, command
