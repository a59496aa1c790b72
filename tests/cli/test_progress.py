"""Long commands show progress on a terminal and nothing when the output is not one."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def import_with_stderr(settings, tmp_path, terminal: bool) -> str:
    export = tmp_path / f"export-{terminal}.ndjson"
    export.write_text("\n".join(json.dumps({"id": str(i + (10_000 if terminal else 0)),
                                            "desc": f"school day {i}"}) for i in range(3000)))
    env = {**os.environ, **settings.to_env(), "COLUMNS": "100"}
    if not terminal:
        proc = subprocess.run([*TAGWATCH, "import", "--format", "4cat", str(export), "--no-score"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0
        return proc.stderr
    leader, follower = pty.openpty()  # standard error is a terminal, as for a person
    proc = subprocess.Popen([*TAGWATCH, "import", "--format", "4cat", str(export), "--no-score"],
                            stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    return seen.decode("utf-8", "replace")


@pytest.mark.slow
def test_import_shows_progress_on_a_terminal_only(settings, tmp_path):
    on_terminal = import_with_stderr(settings, tmp_path, terminal=True)
    assert "staging export-True.ndjson" in on_terminal
    assert import_with_stderr(settings, tmp_path, terminal=False) == ""
