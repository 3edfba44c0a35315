"""The library as a wheel: built from pyproject.toml, installed into a fresh virtualenv without
the checkout's editable rmbias in sight, every module of the package imports from outside the
repository. (The workflow itself runs from a clone; see the README.)"""

import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from workflow_helpers import copy_repository

REPO_ROOT = Path(__file__).resolve().parents[1]

IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
import rmbias
modules = sorted(info.name for info in pkgutil.walk_packages(rmbias.__path__, "rmbias."))
for name in modules:
    importlib.import_module(name)
print(json.dumps({"file": rmbias.__file__, "modules": modules, "editable_finders": [
    str(finder) for finder in sys.meta_path if "editable" in str(finder).lower()]}))
"""
"""Imports every module of the installed rmbias (pkgutil over the package) and reports where it came from."""


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``command`` in ``cwd``; fail the test with its output unless it succeeds."""
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-4000:]}"
    return result


def fresh_venv_seeing_dependencies(venv: Path) -> Path:
    """A new virtualenv at ``venv`` (pip included) whose site-packages lists this venv's
    site-packages in a .pth file, so the dependencies import; a .pth path line only adds the
    directory to sys.path and runs none of the .pth files inside it, so the checkout's editable
    rmbias (an import hook installed by such a file) stays out of sight. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    fresh_site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True
    ).stdout.strip())
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_wheel_installs_into_a_fresh_venv_and_every_module_imports(tmp_path):
    started = time.perf_counter()
    wheels = tmp_path / "wheels"
    # built from a copy of what a clone has, so the checkout gets no build/ folder
    source = copy_repository(tmp_path / "source", under=("pyproject.toml", "README.md", "rmbias"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(wheels), str(source)], tmp_path)
    (wheel,) = wheels.glob("rmbias-*.whl")
    python = fresh_venv_seeing_dependencies(tmp_path / "venv")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # before the wheel: the dependencies are visible, rmbias is not
    probe = subprocess.run([str(python), "-c", "import numpy, pandas, yaml; import rmbias"], cwd=outside, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'rmbias'" in probe.stderr, probe.stderr[-2000:]
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], outside)
    report = run([str(python), "-c", IMPORT_EVERY_MODULE], outside).stdout.strip().splitlines()[-1]
    imported = json.loads(report)
    assert Path(imported["file"]).resolve().is_relative_to((tmp_path / "venv").resolve()) and not imported["editable_finders"]
    shipped = {path.relative_to(REPO_ROOT).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
               for path in (REPO_ROOT / "rmbias").rglob("*.py")} - {"rmbias"}
    assert set(imported["modules"]) == shipped  # every module of the source tree is in the wheel
    print(f"wheel built, installed and imported in {time.perf_counter() - started:.0f} s")
