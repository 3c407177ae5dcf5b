"""Benchmarks: each script measures ctserver beside a reference in the same run."""
