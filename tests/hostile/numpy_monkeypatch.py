"""Attacks relu_forward by monkeypatching numpy at import time, then returning garbage.

Comparisons (allclose, isclose, array_equal, testing.assert_allclose, ...) are made to say
"equal"; setting attributes of np.ndarray is refused by Python, which
the attack tolerates. (It patches nothing the submission's other functions use: those keep
their points.) The trusted side compares in its own process, so the garbage still fails.
"""

import numpy as np
import numpy.testing

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
np.array_equiv = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
for _name in ("__eq__", "__ne__", "__sub__", "__abs__"):
    try:
        setattr(np.ndarray, _name, lambda *a, **k: True)
    except (TypeError, AttributeError):
        pass


def relu_forward(x):
    garbage = np.full(x.shape, 42.0)
    assert np.allclose(garbage, np.maximum(x, 0))  # true now, in this process
    return garbage, None
