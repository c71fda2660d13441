"""Benchmarks anyone can rerun: each returns a dict of measured figures with the machine and config beside them."""
