"""The paper record, and how it is laid out on the chunks stored in Chroma.

Ingest writes papers through this schema and the query side reads them back through it,
so the metadata keys and the text rules (normalising, the title key) live here once.

Each chunk carries its paper's fields as flat metadata (Chroma takes no lists or None).
The first chunk of a paper (``chunk_index`` 0) also carries the whole abstract, exactly as
ingested: the engine reads abstracts back instead of rebuilding them from chunks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PAPER_ID = "paper_id"
TITLE = "title"
SOURCES = "sources"
CHUNK_INDEX = "chunk_index"
ABSTRACT = "abstract"  # on the first chunk only
OPTIONAL_FIELDS = ("listing_date", "authors", "categories", "update_date", "url")
# Keys a chunk carries in the store that the embedding model and the LLM never see.
HIDDEN_KEYS = (PAPER_ID, CHUNK_INDEX, SOURCES, ABSTRACT, *OPTIONAL_FIELDS)
SOURCE_SEPARATOR = "; "

_WHITESPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_text(text: str) -> str:
    """NFC, with line breaks and runs of spaces collapsed (arXiv metadata is full of both)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def title_key(title: str) -> str:
    """Case-, accent- and punctuation-insensitive key: one paper, however it is typed."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    return _NON_ALNUM.sub(" ", folded).strip()


@dataclass
class Paper:
    """One paper: the unit of citation. ``sources`` remembers every file that listed it."""

    title: str
    abstract: str
    paper_id: str
    sources: list[str] = field(default_factory=list)
    listing_date: str | None = None
    authors: str | None = None
    categories: str | None = None
    update_date: str | None = None
    url: str | None = None

    def metadata(self) -> dict[str, str]:
        """The flat, Chroma-compatible fields every chunk of this paper carries."""
        metadata = {
            PAPER_ID: self.paper_id,
            TITLE: self.title,
            SOURCES: SOURCE_SEPARATOR.join(self.sources),
        }
        for name in OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value:
                metadata[name] = value
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Paper:
        """The paper stored on a first chunk's metadata, as it was written."""
        sources = str(metadata.get(SOURCES) or "")
        return cls(
            title=str(metadata[TITLE]),
            abstract=str(metadata.get(ABSTRACT) or ""),
            paper_id=str(metadata[PAPER_ID]),
            sources=[s for s in sources.split(SOURCE_SEPARATOR) if s],
            **{name: metadata.get(name) for name in OPTIONAL_FIELDS},
        )
