"""Benchmarks (``make bench`` / ``python -m bench``): numbers with baselines, not timed tests."""
