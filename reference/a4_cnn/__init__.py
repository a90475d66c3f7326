"""The references of a4_cnn: convolution, pooling and their normalisations (one module per module of `assignments/a4_cnn/`)."""
