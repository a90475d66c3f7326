"""The hints of a7_distributed (the checker's own wording; the tests look for them)."""

from __future__ import annotations

import numpy as np

from dlgrade.reference.a7_distributed.parallel import allreduce_sum, shard_sizes


# Hints (the checker's own wording; the tests look for them).
IN_PLACE = "Write the sum into the tensor you were given (tensor.copy_(...) or +=) and return None"
ALL_GATHER = "only the chunk each rank reduced itself is right: the all-gather phase is missing"
WRONG_CHUNK = "a rank adds the received chunk into the wrong chunk"
COLLECTIVE = "use only dist.send/recv/isend/irecv"
STAR = "a star (every rank sends to one rank, which sends the sum back) or everyone sending everything"
REMAINDER = "the last N % len(devices) examples are dropped"
AVERAGED = "the gradients were averaged over devices instead of summed"
LR_SCALE = "the learning rate was not divided by the full batch size N"
SHARD_LR = "the learning rate was divided by the shard's size instead of the full batch size N"


def _chunk_hints(inputs, result) -> list[str]:
    """Known ring mistakes, recognised from which chunks each rank got right."""
    n = len(inputs)
    hints = []
    for k in range(len(inputs[0])):
        want = allreduce_sum([row[k] for row in inputs])
        flat_want = np.asarray(want, dtype=np.float64).reshape(-1)
        got = [np.asarray(rank["values"][k], dtype=np.float64).reshape(-1) for rank in result["ranks"]]
        if n < 2 or flat_want.size < n:
            continue
        bounds = np.cumsum([0] + shard_sizes(flat_want.size, n))
        right = [[np.allclose(g[a:b], flat_want[a:b]) for a, b in zip(bounds[:-1], bounds[1:])] for g in got]
        unchanged = all(np.array_equal(g, np.asarray(row[k], dtype=np.float64).reshape(-1)) for g, row in zip(got, inputs))
        if all(r.count(True) == 1 for r in right):
            hints.append(ALL_GATHER)
        elif not all(all(r) for r in right) and not unchanged:
            hints.append(f"Check which chunk each step sends and which it adds into: {WRONG_CHUNK}, or a chunk index "
                         f"is off by one (step s of the reduce-scatter sends chunk (rank - s) % n and adds into "
                         f"(rank - s - 1) % n).")
        if all(np.array_equal(g, np.asarray(row[k], dtype=np.float64).reshape(-1)) for g, row in zip(got, inputs)) \
                and any(r != "None" for rank in result["ranks"] for r in rank["returned"]):
            hints.append(IN_PLACE + " (every rank's tensor is unchanged and a value was returned).")
    return list(dict.fromkeys(hints))
