"""Moved to `dlgrade.reference.a1_backprop.net` (references mirror `assignments/`); this name is kept for code written
against the flat layout."""

from dlgrade.reference.a1_backprop.net import *  # noqa: F401,F403
