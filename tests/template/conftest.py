"""Import paths of the template self-tests: scripts/ (check_iam.py and its iam_* modules),
and this folder (the helpers the test files share)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The scripts are no package, and pytest's importlib mode puts no test folder on sys.path.
for path in (HERE.parents[1] / "scripts", HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
