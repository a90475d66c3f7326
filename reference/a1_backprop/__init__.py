"""The references of a1_backprop: layers, losses and nets (one module per module of `assignments/a1_backprop/`)."""
