"""Import path of the workflow-lint self-tests: scripts/ (check_workflows.py)."""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
# The scripts are no package, and pytest's importlib mode puts no test folder on sys.path.
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
