"""tests/deploy: the checks of deploy/ share the deploy_*.py modules of this folder, imported by
name (`from deploy_kubernetes import ...`). pyproject.toml puts tests/ on the path, not this
folder, and --import-mode=importlib adds nothing: this conftest, imported before the test
modules beside it, puts the folder first on sys.path (its modules' names are unique to it)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
