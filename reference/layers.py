"""Moved to `dlgrade.reference.a1_backprop.layers` (references mirror `assignments/`); this name is kept for code written
against the flat layout."""

from dlgrade.reference.a1_backprop.layers import *  # noqa: F401,F403
