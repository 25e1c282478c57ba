"""Benchmarks of ``localize`` against plain NumPy baselines (``make bench``)."""
