"""The layers of docs/architecture.md: the import-linter contracts of pyproject.toml, and the DAG file's imports.

``make test`` runs ``lint-imports`` before pytest; these tests run it too, so ``pytest`` alone catches an import
against the layers.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The root packages of the contracts, by the folder they are found in.
PACKAGES = ("include/nova_dpo", "plugins/nova_dpo_airflow")
DAG_FILE = REPO / "dags" / "nova_dpo_pipeline.py"
# What the DAG file may import at the top (parsing it must stay cheap; the tasks import the rest).
DAG_TOP_LEVEL_IMPORTS = ("airflow.sdk", "nova_dpo.pipeline.params", "nova_dpo_airflow")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the contracts of ``root/pyproject.toml``, over the packages under ``root``."""
    command = shutil.which("lint-imports", path=Path(sys.executable).parent) or "lint-imports"
    source_dirs = [str(root / Path(package).parent) for package in PACKAGES]
    return subprocess.run(
        [command, "--no-cache", "--no-logo"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(source_dirs)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def layers_contract() -> dict:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = (c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    return contract


def test_the_contracts_are_kept():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_every_top_level_module_has_a_layer():
    """A new module under nova_dpo/ takes a place in the layers, else import-linter would not check it."""
    layered = {
        name.strip().strip("()")
        for layer in layers_contract()["layers"]
        for name in layer.replace(":", "|").split("|")
    }
    modules = {
        f"nova_dpo.{path.stem if path.is_file() else path.name}"
        for path in (REPO / "include" / "nova_dpo").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert modules - layered == set(), "add these to the layers contract in pyproject.toml"


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # The recipes read the catalog, never the SageMaker request builder above them.
        ("nova_dpo/recipes/resolve.py", "from nova_dpo.platforms import sagemaker_requests", "Layers"),
        # Nothing but the CLI imports a command module.
        ("nova_dpo/pipeline/run.py", "import nova_dpo.commands.recipes", "Layers"),
        ("nova_dpo/data/storage.py", "from airflow.sdk import ObjectStoragePath", "never imports Airflow"),
        # Through another module: the SageMaker platform imports boto3.
        ("nova_dpo/platforms/local/jobs.py", "import nova_dpo.platforms.sagemaker", "boto3 or botocore"),
        ("nova_dpo/platforms/local/judging.py", "import nova_dpo.platforms.local.generation", "one-way"),
    ],
)
def test_an_import_against_the_contracts_is_caught(tmp_path, module, line, contract):
    """Each contract catches what it forbids: a contract that checks nothing would pass any import."""
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "include" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")

    done = lint_imports(tmp_path)

    assert done.returncode != 0, done.stdout
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout


def _top_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """``(line, module)`` of the imports that run when the file is parsed: not those inside functions."""
    found, pending = [], list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending += ast.iter_child_nodes(node)
    return sorted(found)


def _allowed_at_dag_parse(module: str) -> bool:
    top = module.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or top == "__future__"
        or any(module == allowed or module.startswith(f"{allowed}.") for allowed in DAG_TOP_LEVEL_IMPORTS)
    )


def test_the_dag_file_imports_at_the_top_only_the_sdk_the_params_and_the_plugins():
    imports = _top_level_imports(ast.parse(DAG_FILE.read_text(encoding="utf-8"), str(DAG_FILE)))

    assert {"airflow.sdk", "nova_dpo.pipeline.params"} <= {module for _, module in imports}
    not_allowed = [f"line {line}: {module}" for line, module in imports if not _allowed_at_dag_parse(module)]
    assert not_allowed == [], "import these inside the task that needs them"
