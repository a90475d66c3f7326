# sample: append to losses.py
# Heidi lets torch do her softmax: this assignment is numpy only.
import torch


def softmax(x):
    return torch.softmax(torch.from_numpy(x), dim=1).numpy()
