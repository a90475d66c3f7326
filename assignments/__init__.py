"""The instructor's source of every assignment: student modules with fenced solutions and a manifest.

This package is data: `dlgrade release` turns each folder into the student version, and the
checker reads the points from each folder's `manifest.toml`.
"""
from pathlib import Path

ASSIGNMENTS_DIR = Path(__file__).resolve().parent
