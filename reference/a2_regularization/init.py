"""Reference facts for a2_regularization's initialisers: the fans of a weight's shape and the
distribution each initialiser draws from."""

from __future__ import annotations

import math


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out): (D, M) for a dense weight (D, M); (C·HH·WW, F·HH·WW) for (F, C, HH, WW)."""
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[2:])
    return int(shape[1]) * receptive_field, int(shape[0]) * receptive_field


def initializer_distribution(name: str, shape: tuple[int, ...]) -> tuple[float, float | None]:
    """The (variance, bound) of the distribution of each weight drawn by initialiser `name`;
    the bound is a for U(-a, a), None for a normal distribution (both have mean 0)."""
    fan_in, fan_out = compute_fans(shape)
    variance = {"xavier_uniform": 2.0 / (fan_in + fan_out), "xavier_normal": 2.0 / (fan_in + fan_out),
                "kaiming_uniform": 2.0 / fan_in, "kaiming_normal": 2.0 / fan_in}[name]
    # U(-a, a) has variance a²/3.
    return variance, (math.sqrt(3.0 * variance) if name.endswith("uniform") else None)
