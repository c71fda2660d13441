"""Evaluation pieces that need no model: pass@k estimators, answer extraction and benchmark loaders, reports."""
