"""How hard and how openly the checker runs.

- `student` (the default for `dlgrade check`): a modest number of random examples, fast; the run's
  seed is printed with every failure so the exact case can be replayed.
- `grading`: more examples, derandomized from a course seed (which the instructor may keep
  secret), no example database, no deadline, and the values of failing examples withheld unless
  the instructor allows them: the same submission always gets the same score.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class GradingProfile:
    """max_examples: examples per property; seed: the run's seed (None: draw one);
    reveal_examples: whether failure messages may show an example's values."""

    name: str
    max_examples: int
    seed: int | None
    reveal_examples: bool

    def with_seed(self, seed: int | None) -> "GradingProfile":
        """The same profile with a chosen seed, or a fresh random one where the profile has none."""
        if seed is None and self.seed is None:
            seed = secrets.randbelow(10**6)
        return replace(self, seed=self.seed if seed is None else seed)

    def seed_for(self, exercise: str, prop: str) -> int:
        """The hypothesis seed of one property: fixed by the run's seed and the names alone."""
        digest = hashlib.sha256(f"{self.seed}:{exercise}:{prop}".encode()).digest()
        return int.from_bytes(digest[:8], "big")


#: The default course seed; an instructor keeps their own with `--seed` or DLGRADE_COURSE_SEED.
DEFAULT_COURSE_SEED = 20261123

PROFILES = {
    "student": GradingProfile("student", max_examples=20, seed=None, reveal_examples=True),
    "grading": GradingProfile("grading", max_examples=60, seed=DEFAULT_COURSE_SEED, reveal_examples=False),
}


def get_profile(name: str, seed: int | None = None, reveal_examples: bool | None = None) -> GradingProfile:
    """The named profile with its seed fixed for this run (for grading: `seed`, else the
    DLGRADE_COURSE_SEED environment variable, else the default course seed)."""
    if seed is None and name == "grading" and os.environ.get("DLGRADE_COURSE_SEED"):
        seed = int(os.environ["DLGRADE_COURSE_SEED"])
    profile = PROFILES[name].with_seed(seed)
    if reveal_examples is not None:
        profile = replace(profile, reveal_examples=reveal_examples)
    return profile
