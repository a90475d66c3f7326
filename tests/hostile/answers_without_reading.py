"""Attacks the trusted side's writes: on its first call, relu_forward shrinks its request pipe to
one page, starts a thread that writes well-formed answers (a correct-looking tuple) in a loop on
the worker's answer channel, and never returns, so that the worker reads no request again. The
trusted side reads each answer and sends the next request into a pipe nobody reads: once it is
full, a blocking write would hold the grader for ever, past every cap. Requests are written
under the call's deadline, so the exercise ends within its allowance.
"""

import fcntl
import sys
import threading
import time

import numpy as np

_started = []


def _answer_without_reading(answers, wire):
    message = wire.encode({"value": (np.zeros(1), None), "error": None})
    while True:
        answers.write(message)
        answers.flush()


def relu_forward(x):
    if not _started:
        _started.append(1)
        frame = sys._getframe()
        while frame is not None and "answers" not in frame.f_locals:
            frame = frame.f_back
        if frame is None:
            return x * 0 - 1.0, None
        requests, answers = frame.f_locals.get("requests"), frame.f_locals["answers"]
        try:
            fcntl.fcntl(requests.fileno(), 1031, 4096)  # F_SETPIPE_SZ: one page
        except (OSError, AttributeError):
            pass
        wire = next(m for name, m in sys.modules.items() if name.endswith("wire") and hasattr(m, "encode"))
        threading.Thread(target=_answer_without_reading, args=(answers, wire), daemon=True).start()
        time.sleep(10 ** 6)
    return x * 0 - 1.0, None
