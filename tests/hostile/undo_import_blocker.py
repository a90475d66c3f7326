"""Attacks relu_forward by undoing the import blocker: it drops every finder that is not the
standard library's from sys.meta_path, clears the import caches and imports torch (forbidden in
a1_backprop) under a computed name, or loads its files straight from sys.path. Where torch loads it
returns the right answer; the worker must not be able to see torch at all, whatever the finders.
"""

import glob
import importlib
import importlib.util
import sys

import numpy as np


def _torch():
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__module__", "").startswith(("_frozen", "importlib"))
                        or type(f).__module__.startswith(("_frozen", "importlib"))]
    importlib.invalidate_caches()
    name = "to" + "rch"
    try:
        return importlib.import_module(name)
    except BaseException as first:
        for folder in sys.path:
            for init in glob.glob(f"{folder}/{name}/__init__.py"):
                try:
                    spec = importlib.util.spec_from_file_location(name, init)
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[name] = module
                    spec.loader.exec_module(module)
                    return module
                except BaseException:
                    sys.modules.pop(name, None)
        raise first


def relu_forward(x):
    t = _torch()
    return t.relu(t.from_numpy(x)).numpy(), x
