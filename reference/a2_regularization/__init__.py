"""The references of a2_regularization: dropout, normalisation, initialisers (one module per module of `assignments/a2_regularization/`)."""
