"""Moved to `dlgrade.reference.a2_regularization.dropout`, `dlgrade.reference.a2_regularization.init`, `dlgrade.reference.a2_regularization.normalization` (references mirror `assignments/`); this name is kept for code written
against the flat layout."""

from dlgrade.reference.a2_regularization.dropout import *  # noqa: F401,F403
from dlgrade.reference.a2_regularization.init import *  # noqa: F401,F403
from dlgrade.reference.a2_regularization.normalization import *  # noqa: F401,F403
