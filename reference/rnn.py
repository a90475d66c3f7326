"""Moved to `dlgrade.reference.a5_rnn.rnn_layers` (references mirror `assignments/`); this name is kept for code written
against the flat layout."""

from dlgrade.reference.a5_rnn.rnn_layers import *  # noqa: F401,F403
