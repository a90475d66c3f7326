"""The instructor's source of every assignment: student modules with fenced solutions and a manifest.

This package is data: `dlgrade release` turns each folder into the student version, and the
checker reads the points from each folder's `manifest.toml`.
"""
from pathlib import Path

ASSIGNMENTS_DIR = Path(__file__).resolve().parent


def course_modules() -> dict[str, frozenset[str]]:
    """Every assignment of the course (a folder with a manifest) and the names of its modules."""
    return {folder.name: frozenset(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
            for folder in sorted(ASSIGNMENTS_DIR.iterdir()) if (folder / "manifest.toml").is_file()}
