"""Benchmarks and evaluations, run by `warroom bench`: the top of the core, free to import any core layer.

Nothing else in the code imports them; their results are in docs/BENCHMARKS.md.

    query.py, query_engines.py, query_peer.py   the Explorer's views: project vs peers, DuckDB vs ClickHouse
    ingest.py, langfuse.py, receive.py          loading: CSV/Parquet ingest, Langfuse exports, OTLP receive
    rca.py, rca_realistic.py, rca_synthetic.py  segment localization scored on Squeeze-layout datasets
    scenarios.py, investigate.py                attribution accuracy on random scenarios; investigate timed
    faults.py                                   writers killed at random moments (what survives)
    incident_writes.py                          concurrent appends, reads and soak on an incident store
"""
