"""The references of a5_rnn: recurrent steps and sequences, embeddings, the temporal loss (one module per module of `assignments/a5_rnn/`)."""
