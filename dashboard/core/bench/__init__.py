"""Benchmarks and evaluations, run by `warroom bench`: the top of the core, free to import any core layer.

Nothing else in the code imports them; their results are in docs/BENCHMARKS.md.
"""
