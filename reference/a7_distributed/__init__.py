"""The references of a7_distributed: allreduce and the data-parallel step (one module per module of `assignments/a7_distributed/`)."""
