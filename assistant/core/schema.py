"""The paper record, and how it is laid out on the chunks stored in Chroma.

Ingest writes papers through this schema and the query side reads them back through it,
so the metadata keys and the text rules (normalising, the title key) live here once.

Each chunk carries its paper's fields as flat metadata (Chroma takes no lists or None).
The first chunk of a paper (``chunk_index`` 0) also carries the whole abstract, exactly as
ingested: the engine reads abstracts back instead of rebuilding them from chunks.

A paper's identity (``paper_id``) is its content: a hash of its title key, the same for a
listing page, a JSON record or a CSV row. An ``id`` a record brings (an arXiv id, a lab's
row number) is only unique within its own file, so it is kept as ``external_id`` and never
decides which paper is which.
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
EXTERNAL_ID = "external_id"  # the id the first source that had one gave the paper
# ``categories``: space-separated ("cs.LG stat.ML"), as arXiv writes them; ``year``: four
# digits; ``update_date``: as the record gave it (arXiv: "2023-03-12"); ``listing_date``: the
# date line of a listing page ("Mar 12", which has no year). ``assistant.filters`` reads them.
OPTIONAL_FIELDS = (
    "listing_date",
    "authors",
    "categories",
    "update_date",
    "year",
    "url",
    EXTERNAL_ID,
)
# Keys a chunk carries in the store that the embedding model and the LLM never see.
HIDDEN_KEYS = (PAPER_ID, CHUNK_INDEX, SOURCES, ABSTRACT, *OPTIONAL_FIELDS)
SOURCE_SEPARATOR = "; "

_WHITESPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[\W_]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Terminal escape sequences, and invisible characters a paste carries inside words (zero-width
# space, (non-)joiner, word joiner, byte-order mark, soft hyphen): in a question they split
# "trans\u200dformer" in two, or leave "[31m" behind once the ESC itself is dropped.
_ANSI_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles, links
    r"|\x1b[ -/]*[0-~]"  # the rest: ESC, intermediates, a final byte
)
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")


def normalize_text(text: str) -> str:
    """NFC, with line breaks and runs of spaces collapsed (arXiv metadata is full of both)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def strip_invisible(text: str) -> str:
    """``text`` without terminal escape sequences and zero-width characters: typed or pasted
    into a question, they change no word the user meant, but break words for search."""
    return _INVISIBLE.sub("", _ANSI_ESCAPE.sub("", text))


def invalid_text(text: str) -> str | None:
    """What makes ``text`` impossible to store, embed or send anywhere; None when nothing.

    A lone surrogate (JSON's ``"\\ud800"``, or a command-line byte that is not UTF-8, which
    Python decodes to ``"\\udcff"``) is not text: encoding it fails in the tokenizer, in
    Chroma and in HTTP clients alike. The description names the code point, never the
    character, so it can be printed anywhere.
    """
    match = _SURROGATE.search(text)
    if match is None:
        return None
    point = ord(match.group())
    where = f"a lone surrogate U+{point:04X} at character {match.start() + 1}"
    if 0xDC80 <= point <= 0xDCFF:  # Python's stand-in for an undecodable byte
        where += f" (the byte 0x{point - 0xDC00:02x}, which is not UTF-8)"
    return where


def title_key(title: str) -> str:
    """Case-, accent- and punctuation-insensitive key: one paper, however it is typed.

    Letters and digits of every script count (a Greek or Chinese title keeps its own key);
    accents are dropped. For ASCII titles this is the key earlier versions used.
    """
    folded = unicodedata.normalize("NFKD", title).casefold()
    if not folded.isascii():
        folded = "".join(char for char in folded if not unicodedata.combining(char))
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
    year: str | None = None
    url: str | None = None
    external_id: str | None = None

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
