"""The library's layering is a checked contract (pyproject.toml, [tool.importlinter]).

Stages import only the stages below them (plumbing < models < corpora < scoring < statistics <
implicit < training < figures), no library module imports the demo world, and the workflow's
scripts and rule files import the library and nothing of the repository's own besides.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the ``rmbias`` package under ``root`` with ``root``'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_library_keeps_its_layering_contract():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "upward_import", "reported"), [
    ("models/batching.py", "import rmbias.figures.scaffold", "rmbias.models.batching -> rmbias.figures.scaffold"),
    ("scoring/search.py", "from rmbias.training import dynamics", "rmbias.scoring.search -> rmbias.training.dynamics"),
    ("statistics/ranks.py", "import rmbias.demo.world", "rmbias.statistics.ranks -> rmbias.demo.world"),
    ("io.py", "import rmbias.records", "rmbias.io -> rmbias.records"),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward_import, reported):
    shutil.copytree(REPO / "rmbias", tmp_path / "rmbias", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    broken = tmp_path / "rmbias" / module
    broken.write_text(broken.read_text() + f"\n{upward_import}  # noqa: E402\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 1 broken." in result.stdout
    assert reported in result.stdout


def _repository_imports(path: Path) -> list[str]:
    """Top-level names of what ``path`` imports (rule files: their Python lines), relative ones as '.'."""
    text = path.read_text()
    if path.suffix == ".smk":
        text = "\n".join(_import_statements(text))
    names = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." if node.level else node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(REPO.glob("workflow_scripts/*.py")) + sorted(REPO.glob("rules/*.smk")),
                         ids=lambda path: path.name)
def test_workflow_files_import_only_the_library_among_the_repository_s_code(path):
    own_code = {entry.name.removesuffix(".py") for entry in REPO.iterdir()} - {"rmbias"}
    imported = set(_repository_imports(path))
    assert "." not in imported, f"{path.name}: relative import"
    assert not imported & own_code, f"{path.name} imports {sorted(imported & own_code)}, not the library"


def test_the_breaking_check_sees_a_script_that_imports_another_script(tmp_path):
    script = tmp_path / "thin.py"
    script.write_text("import sys\nfrom rmbias.io import read_parquet\nfrom workflow_scripts import corpus\n")
    assert "workflow_scripts" in _repository_imports(script)


HEAVY_PACKAGES = ("torch", "transformers", "peft")
"""What the rule files must not import: seconds at every Snakemake start (a dry run, each SLURM job)."""


def test_the_rule_files_import_no_module_that_imports_torch_transformers_or_peft():
    lines = [line for path in [REPO / "Snakefile", *sorted(REPO.glob("rules/*.smk"))]
             for line in _import_statements(path.read_text())]
    assert any("rmbias" in line for line in lines)
    probe = "\n".join([*lines, "import sys", f"print(sorted(set({HEAVY_PACKAGES!r}) & set(sys.modules)))"])
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the rule files' imports load {result.stdout.strip()}"


def _import_statements(text: str) -> list[str]:
    """The top-level import statements of a rule file, each as one line (parenthesised lists joined)."""
    statements, current = [], None
    for line in text.splitlines():
        if current is not None:
            current += " " + line.strip()
            if ")" in line:
                statements.append(current)
                current = None
        elif line.startswith(("import ", "from ")):
            if line.rstrip().endswith("("):
                current = line.rstrip()
            else:
                statements.append(line)
    return statements
