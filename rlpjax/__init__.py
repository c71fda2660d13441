"""rlpjax: RLP (reinforcement as a pretraining objective) and a controlled reasoning laboratory in JAX."""

__version__ = "0.1.0"
