"""The performance benchmark of tap-hrdata: ``python -m benchmarks`` (see BENCHMARKS.md)."""
