"""What one ingest run writes, given what the store already holds.

A run names some files; the store may hold papers from earlier runs over other files, and
papers written by earlier versions under other ids. Before anything is written, the parsed
papers are reconciled with the stored ones (pure functions of the stored chunk metadata):

- **One paper, many runs.** A stored paper that this run lists again keeps what its other
  sources said: its stored copy counts as an earlier listing (its title and fields first,
  the longer abstract wins, since listing pages cut abstracts short) and the sources this
  run did not read stay listed. When this run re-read every source of the stored paper,
  its version simply replaces it (a changed abstract replaces the old one).
- **Old ids.** Earlier versions keyed a record that had an ``id`` by that id, so a store
  may hold a paper under an id that is not its content id, or one paper twice (a listing
  under its title hash, a JSON record under its id). Every such paper is re-keyed on the
  next ingest, whatever files it names: written once under its content id, with the
  sources of all its stored copies, and its old chunks removed. Its chunk texts are
  unchanged, so the pipeline reuses their stored vectors instead of embedding them again.
  To find them the next ingest reads the whole store; once one found nothing left to
  re-key, the store is marked as holding content ids only, and later runs read only the
  chunks stored under the ids of the papers they list (nothing writes other ids now).
- **Stale chunks** are the stored chunks of the papers this run writes that this run does
  not write (an old abstract's chunks, chunks under an old id). They are found by the
  content id of their title, not by the stored ``paper_id``, so chunks under old ids are
  found too.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.core.schema import CHUNK_INDEX, PAPER_ID, TITLE, Paper
from ingest.records import merge_listing, paper_id_for

_TITLE_HASH = re.compile(r"t[0-9a-f]{16}")  # what paper_id_for gives
ChunkMetadata = Mapping[str, Mapping[str, Any]]  # chunk id → stored metadata


class ContentIds:
    """The content id of a stored chunk's paper (from its title), computed once per title."""

    def __init__(self) -> None:
        self._by_title: dict[str, str] = {}

    def __call__(self, metadata: Mapping[str, Any]) -> str | None:
        title = metadata.get(TITLE)
        if not isinstance(title, str) or not title:
            return None  # not a paper chunk this code wrote: never touched
        if title not in self._by_title:
            self._by_title[title] = paper_id_for(title)
        return self._by_title[title]

    def rekeyed(self, metadata: Mapping[str, Any]) -> bool:
        """Whether the chunk is stored under an id other than its content id."""
        content_id = self(metadata)
        return content_id is not None and metadata.get(PAPER_ID) != content_id


@dataclass
class Plan:
    """The papers to write: this run's (merged with stored listings) plus re-keyed ones."""

    papers: list[Paper] = field(default_factory=list)
    rekeyed: int = 0  # stored papers re-keyed that this run does not list

    @property
    def paper_ids(self) -> set[str]:
        return {paper.paper_id for paper in self.papers}


def _stored_papers(stored: ChunkMetadata, content_id: ContentIds) -> dict[str, list[Paper]]:
    """Content id → the papers stored for it (one per first chunk), current id first."""
    found: dict[str, list[Paper]] = {}
    for metadata in stored.values():
        key = content_id(metadata)
        if key is not None and metadata.get(CHUNK_INDEX) == 0:
            paper = Paper.from_metadata(metadata)
            if paper.paper_id != key and not _TITLE_HASH.fullmatch(paper.paper_id):
                paper.external_id = paper.external_id or paper.paper_id  # an old id was its own
            found.setdefault(key, []).append(paper)
    for key, papers in found.items():
        papers.sort(key=lambda paper: paper.paper_id != key)
    return found


def _fold(copies: Sequence[Paper], paper_id: str) -> Paper:
    """Several listings of one paper as one, by the rule inside a run (``merge_listing``)."""
    kept = copy.deepcopy(copies[0])
    kept.paper_id = paper_id
    for other in copies[1:]:
        merge_listing(kept, other)
    return kept


def merge_with_stored(
    paper: Paper, stored: Sequence[Paper], read_sources: Collection[str]
) -> Paper:
    """``paper`` as this run read it, plus what stored copies owe to sources it did not read.

    The stored copies count as earlier listings: their title and fields come first, the
    longer abstract wins, every source is kept (in stored order, new ones last). When this
    run re-read every source of the stored copies, its version simply replaces them.
    """
    earlier = []
    for old in stored:
        others = [source for source in old.sources if source not in read_sources]
        if others:
            earlier.append(dataclasses.replace(old, sources=others))
    if not earlier:
        return paper
    merged = _fold([*earlier, paper], paper.paper_id)
    order = {source: i for i, source in enumerate(s for old in stored for s in old.sources)}
    merged.sources.sort(key=lambda source: order.get(source, len(order)))
    return merged


def plan_writes(
    parsed: Sequence[Paper], read_sources: Collection[str], stored: ChunkMetadata
) -> Plan:
    """Reconcile this run's papers with the stored ones (see the module docstring)."""
    by_paper = _stored_papers(stored, ContentIds())
    plan = Plan()
    for paper in parsed:
        plan.papers.append(merge_with_stored(paper, by_paper.pop(paper.paper_id, []), read_sources))
    for paper_id, copies in by_paper.items():
        if len(copies) == 1 and copies[0].paper_id == paper_id:
            continue  # stored as it should be, and not listed by this run: untouched
        if not any(old.abstract for old in copies):
            continue  # written before abstracts were stored: cannot be rebuilt here
        with_abstract = sorted(copies, key=lambda old: not old.abstract)  # stable
        plan.papers.append(_fold(with_abstract, paper_id))
        plan.rekeyed += 1
    return plan


def stale_chunks(
    stored: ChunkMetadata, written_papers: Collection[str], wanted: Collection[str]
) -> list[str]:
    """Stored chunks of the papers being written that this run does not write."""
    content_id = ContentIds()
    return [
        chunk_id
        for chunk_id, metadata in stored.items()
        if chunk_id not in wanted and content_id(metadata) in written_papers
    ]
