"""Benchmarks for the BUCP Knowledge Base (not part of the test suite; see bench/README.md)."""
