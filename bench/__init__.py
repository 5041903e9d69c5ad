"""Benchmarks (not tests): run each as ``python -m bench.<name>``; figures go to docs/benchmarks.md."""
