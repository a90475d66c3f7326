"""The references of a3_optimizers: the update rules and gradient clipping (one module per module of `assignments/a3_optimizers/`)."""
