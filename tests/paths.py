"""Where the tests' data lives (tests/data), for test modules at any depth."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
MEDIAN_SCRIPT = DATA / "median_fix_script.json"  # the whole median fix, as a scripted engine's JSON
ROOT = Path(__file__).resolve().parents[1]  # the repository (its agent/, tools/, examples/)
