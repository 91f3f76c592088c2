"""Harnesses that start real servers (the app, a Chroma server) for tests and benchmarks."""
