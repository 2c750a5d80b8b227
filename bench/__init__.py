"""Benchmarks and their results (bench/results/). `python -m bench.accuracy` is the accuracy benchmark."""
