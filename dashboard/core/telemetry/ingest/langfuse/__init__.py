"""Langfuse exports as contract-shaped request rows (one ingest format among CSV, Parquet and OTLP).

    export.py    observations exports (UI and blob-storage shapes) as request rows
    usage.py     usage and cost maps: token totals and the cached part
    scores.py    a scores export joined onto the requests it scores
    mapping.py   the `[langfuse]` section of an ingest mapping
    validate.py  the export through the ordinary validate path of `ingest`

Kept free of imports: the ingest mapping reads `mapping.py` without loading the readers.
"""
