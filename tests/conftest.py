"""Shared test set-up: a headless plotting backend and one model-zoo cache for the whole run."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")
# Same cache as `make book`, so the tests and the build never train a model twice.
os.environ.setdefault("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache"))
