"""Attacks relu_forward by importing torch under a computed name (the static check cannot see it),
through __import__, importlib and a direct load of its files from site-packages. Where torch
loads it returns the right answer; in the sandbox every route must fail."""

import glob
import importlib
import importlib.util
import sys

import numpy as np


def _torch():
    name = "to" + "rch"
    first = None
    for attempt in (lambda: __import__(name), lambda: importlib.import_module(name)):
        try:
            return attempt()
        except BaseException as e:
            first = first or e
    for folder in sys.path + glob.glob("/**/site-packages", recursive=False):
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
    t = _torch()  # raises the first import error where every route fails
    return t.relu(t.from_numpy(x)).numpy(), x
