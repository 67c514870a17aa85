"""`warroom ingest`: a team's own telemetry and release log into the data folder, one module per step.

    pipeline.py    the two phases (read and validate everything, then commit atomically)
    read.py        a source file's bytes and frame (CSV, Parquet, JSON, OTLP), its digest
    parse.py       timestamps, numbers and strings as a mapping declares them
    validate.py    rows against the contract: accepted, or rejected with file, row, field and reason
    dimensions.py  segment columns the data lacks or holds constant
    prices.py      cost from a mapping's model prices where the rows carry none
    dedupe.py      rows the store already holds
    manifest.py    source files already ingested (their digests in the committed footers)
    commit.py      the atomic publish, and what a killed ingest left pending
    langfuse/      Langfuse observations and scores exports as contract rows

Kept free of imports, so a step (or the ingest mapping) loads without the whole pipeline.
"""
