"""Benchmarks, run as modules: `python -m bench.lead_list` (see bench/README.md)."""
