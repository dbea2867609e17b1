"""Training: the bi-encoder recipe (``train``), its run folder's life (``run_folder``), the validation evaluator
(``evaluator``), the sentence-transformers trainer it drives (``st_trainer``), loss, callbacks and k-fold."""
