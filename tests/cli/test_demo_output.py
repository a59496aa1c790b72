"""`make demo` output (issue 18 item 2): no StarletteDeprecationWarning from Airflow's
execution API, which `dag.test` loads into the demo's process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

LOAD = "import airflow.api_fastapi.execution_api.app"


def output_of(code: str) -> str:
    """What a process prints (Airflow's logging may take warnings to either stream)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "default"})
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_demo_silences_starlettes_deprecation_warning_and_only_it():
    assert "StarletteDeprecationWarning" in output_of(f"from tagwatch import demo; {LOAD}")
    quiet = output_of("from tagwatch import demo; demo.quiet_known_warnings(); "
                      f"{LOAD}; import warnings; warnings.warn('another warning')")
    assert "StarletteDeprecationWarning" not in quiet and "another warning" in quiet
