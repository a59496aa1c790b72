"""The house rules, counted from the code itself: the floors (import-linter's contracts in
pyproject.toml), no import from a domain room up into a face, no `_private` name used by
another module, no function over 80 lines in product code (scripts/architecture.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import architecture as arch  # scripts/architecture.py

ROOT = Path(__file__).resolve().parent.parent


def test_the_floors_hold():
    # Its own process, with only the checkout on the path (tests/ holds folders named like rooms).
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                               "sys.exit(lint_imports(no_cache=True))"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_domain_room_imports_a_face():
    assert [str(f) for f in arch.domain_to_face_imports()] == []


def test_no_module_uses_another_modules_private_names():
    assert [str(f) for f in arch.cross_module_private_uses()] == []


def test_no_function_in_product_code_is_over_80_lines():
    assert [str(f) for f in arch.long_functions()] == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_counter_finds_planted_faults(tmp_path):
    root = _plant(tmp_path, {
        "warehouse/__init__.py": "",
        "warehouse/queries.py": "def _dicts(cur):\n    return []\n",
        "review/__init__.py": "",
        "review/cases.py": ("from tagwatch.config import Settings\n"
                            "from warehouse.queries import _dicts\n"
                            "from warehouse import queries as q\n\n\n"
                            "def long():\n" + "    x = 1\n" * 80 + "    return q._dicts(x)\n"),
        "review/schools.py": "def late():\n    from tagwatch import pipeline\n    from . import cases\n"
                             "    return cases._freeze, pipeline\n",
    })
    assert [(f.path, f.line) for f in arch.domain_to_face_imports(root)] == [
        ("review/cases.py", 1), ("review/schools.py", 2)]
    assert sorted(f.what for f in arch.cross_module_private_uses(root, rooms=("warehouse", "review"))) == [
        "imports warehouse.queries._dicts", "uses review.cases._freeze", "uses warehouse.queries._dicts"]
    assert [f.what for f in arch.long_functions(root)] == ["long is 82 lines"]
