"""Ingest paper listings, JSON/JSONL records and CSV files into the Chroma store."""
