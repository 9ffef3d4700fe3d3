"""Shared test helpers: headless pygame, and the scripts loaded as modules by their file path.

Scripts are entry points, not a package (``python scripts/train.py``); tests load one by path with
:func:`script` rather than putting scripts/ on ``sys.path``. tracerl itself is imported as installed
(``pip install -e .``).
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# pygame runs headless in tests: no window, no sound card.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def script(name: str) -> ModuleType:
    """scripts/{name}.py as a module (loaded once per test session), without running its main."""
    key = f"tracerl_script_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
