"""Training recipes: the bi-encoder trainer, its loss, callbacks and k-fold."""
