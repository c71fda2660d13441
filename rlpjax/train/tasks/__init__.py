"""Objective bindings for the loop: one module per objective (see rlpjax/train/task.py)."""
