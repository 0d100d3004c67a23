"""Benchmarks, run as modules from the project root: ``python -m benchmarks.hop_cost``."""
