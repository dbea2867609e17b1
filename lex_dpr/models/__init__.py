"""Encoders: the static model, transformer bi-encoders with LoRA, fold ensembles, and one loader for all."""
