"""Benchmarks against the limits in issue 6; see bench/README.md. Not part of the test suite."""
