"""The checks every draft answer passes, from any answerer, as it streams.

1. The leak guard stops an answer that starts reciting the answerer's instructions.
2. The citation rewriter keeps only ``[n]`` markers that point at a retrieved paper and
   renumbers the cited ones 1, 2, 3… in order of first use.
The result is an :class:`Answer` whose every citation is a retrieved paper.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from assistant.answer import Answer, Citation
from assistant.answerers import Answerer, Draft
from assistant.citations import CitationRewriter, tidy
from assistant.leak_guard import LeakGuard
from assistant.retrieval import PaperHit


class EmptyAnswer(RuntimeError):
    """The answerer wrote nothing."""


def checked(
    draft: Draft, answerer: Answerer, hits: Sequence[PaperHit]
) -> Generator[str, None, Answer]:
    """Yield the draft's text as it passes the checks; return the checked answer."""
    guard = LeakGuard(answerer.system_prompt) if answerer.system_prompt else None
    rewriter = CitationRewriter(len(hits))
    shown: list[str] = []
    for piece in draft.pieces:
        if guard is not None:
            guard.check(piece)
        clean = rewriter.feed(piece)
        if clean:
            shown.append(clean)
            yield clean
    tail = rewriter.finish()
    if tail:
        shown.append(tail)
        yield tail
    text = "".join(shown)
    if not text.strip():
        raise EmptyAnswer("empty answer")
    cited = [hits[original - 1] for original in rewriter.order]
    citations = [
        Citation.from_hit(number, hits[original - 1], draft.passages[original - 1])
        for number, original in enumerate(rewriter.order, start=1)
    ]
    return Answer(
        text=tidy(text) if rewriter.dropped else text.strip(),
        citations=citations,
        related=[hit for hit in hits if hit not in cited],
        answered=bool(citations),
        backend=answerer.backend,
        model=answerer.model,
    )
