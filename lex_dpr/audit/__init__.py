"""Auditing adapters and checkpoints from their configs and tensor headers, without loading weights."""
