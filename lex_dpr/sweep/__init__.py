"""Hyperparameter sweeps: W&B sweep files run offline on Optuna, or online on W&B."""
