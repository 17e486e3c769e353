"""Benchmarks: speed targets are measured here, not asserted in the test suite."""
