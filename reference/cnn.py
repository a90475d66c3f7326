"""Moved to `dlgrade.reference.a4_cnn.conv` (references mirror `assignments/`); this name is kept for code written
against the flat layout."""

from dlgrade.reference.a4_cnn.conv import *  # noqa: F401,F403
