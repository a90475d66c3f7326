"""Attacks relu_forward by writing forged results files wherever a grader might read them.

On import and at every call it tries: results.json in the current folder, /autograder/results/
results.json (Gradescope), /tmp, every path named by an environment variable that mentions
GRADE or RESULT, the submission's own folder, and the course's assignments/ folder in the
repository (__REPO__). None of these may reach the trusted side's file system. It returns garbage.
"""

import json
import os

_FORGED = json.dumps({"score": 1e9, "tests": [{"name": "relu_forward", "score": 1e9, "status": "passed"}],
                      "marker": "__MARKER__"})


def _forge():
    here = os.path.dirname(os.path.abspath(__file__))
    targets = ["results.json", "__MARKER__.json", "/autograder/results/results.json", "/tmp/results.json",
               os.path.join(here, "results.json"), os.path.join(here, "..", "results.json"),
               "__REPO__/assignments/a1_backprop/__MARKER__.json", "__REPO__/assignments/__MARKER__.json",
               "__REPO__/__MARKER__.json", "__REPO__/results.json"]
    targets += [v for k, v in os.environ.items() if "GRADE" in k.upper() or "RESULT" in k.upper()]
    written = []
    for target in targets:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        except OSError:
            pass
        try:
            with open(target, "w") as f:
                f.write(_FORGED)
            written.append(target)
        except OSError:
            pass
    return written


_forge()


def relu_forward(x):
    _forge()
    return x * 0 - 1.0, None
