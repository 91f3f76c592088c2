"""The shared bottom layer: what writing (``ingest``) and reading (the query engine) both need.

- ``settings``: every knob, from the environment;
- ``schema``: the paper record and the metadata keys its chunks carry in the store;
- ``embeddings``: the embedding model behind one interface;
- ``store``: the only code that talks to Chroma;
- ``lexical``: the BM25 index built from the stored chunks;
- ``sentence_split``: the one sentence splitter (ingest embeds the sentences it finds);
- ``sentence_vectors``: those sentence vectors, persisted per store revision.

Nothing here imports ``ingest`` or the query side of ``assistant``.
"""
