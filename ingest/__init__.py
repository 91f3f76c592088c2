"""Ingest: paper listings and records → chunks → embeddings → the Chroma store.

Stands on ``assistant.core`` (settings, schema, embeddings, store, lexical index) and never
imports the query side.
"""

from pathlib import Path

BUNDLED_PAPERS = Path(__file__).resolve().parent.parent / "data" / "papers"
