"""Every tuned number of the query side, in one described, hashable settings object.

The values were set on the question sets in ``eval/`` (each field says which); the
history of how they moved is in ``docs/evaluation.md``, not here. A variant is a JSON file
(``ASSISTANT_TUNING_FILE``, or ``python -m assistant.eval --tuning FILE``) or single
overrides (``--set premises.rest_gap=0.2``), so a sweep needs no code change. The hash of
the values in force is stamped on every :class:`~assistant.answer.Answer` and every eval
report (as PaperQA2 stamps its settings' md5), so a figure can always be traced to the
values that produced it.

Engineering limits (batch sizes, scan caps, cache sizes) are not tuning and stay where
they are used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.core.errors import AssistantError, first_problem

DEV = "eval/dev.jsonl + eval/answers_dev.jsonl"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrievalTuning(_Group):
    """How the dense and BM25 legs are fused into one paper ranking (``retrieval.fuse``)."""

    dense_weight: float = Field(1.0, description=f"Weight of the best chunk's cosine; {DEV}.")
    lexical_weight: float = Field(
        0.8, description=f"Weight of the saturated BM25 score in the ranking; {DEV}."
    )
    bm25_half: float = Field(
        12.0, gt=0, description=f"BM25 score that earns half the lexical weight; {DEV}."
    )
    relevance_lexical_weight: float = Field(
        0.5,
        description="Lexical weight on the fixed relevance scale the gate, the conversation's "
        "switch and the answerers' floor are calibrated on (eval/dev.jsonl).",
    )
    relevance_bm25_half: float = Field(
        5.0, gt=0, description="BM25 half-point on the relevance scale (eval/dev.jsonl)."
    )
    figure_bonus: float = Field(
        0.15, description="Added for a paper whose abstract holds every figure the query names."
    )
    candidate_chunks: int = Field(
        60, ge=1, description="Chunks each leg retrieves before they are collapsed to papers."
    )


class GateTuning(_Group):
    """When the corpus is judged not to hold the answer (``relevance.RelevanceGate``)."""

    min_score: float = Field(
        0.53, description="Relevance below which nothing retrieved counts (eval/dev.jsonl)."
    )
    min_score_with_unknown_word: float = Field(
        0.62, description="Needed when the question uses an ordinary word the corpus lacks."
    )
    min_score_with_unknown_name: float = Field(
        0.80, description="Needed when the question names something the corpus lacks."
    )


class ConversationTuning(_Group):
    """Follow-up or new subject (``conversation.Conversation``); set on the conversations
    of eval/dev.jsonl and eval/answers_dev.jsonl."""

    switch_score: float = Field(
        0.75, description="A message referring back still switches on a match this confident…"
    )
    switch_max_overlap: float = Field(
        0.2, description="…when it shares this little wording with the conversation's paper."
    )
    stays_overlap: float = Field(0.4, description="A message sharing this much stays on it.")
    about_paper_overlap: float = Field(
        0.3, description="An unmatched message sharing this much is a follow-up."
    )
    transcript_turns: int = Field(3, ge=1, description="Turns the LLM condenser is shown.")
    transcript_answer_chars: int = Field(
        600, ge=1, description="Characters of each earlier answer the condenser is shown."
    )


class PremisesTuning(_Group):
    """False-premise detection (``premises.PremiseChecker``); set on answers_dev (false
    premises against answerable look-alikes) and eval/blind_premises.jsonl."""

    title_match: float = Field(
        0.8, description="Share of a quoted title's words that must match an indexed title."
    )
    uncovered_share: float = Field(
        0.4,
        description="Share of the question's wording (idf) missing from the matched paper but "
        "used by another retrieved one from which the combination counts as uncovered.",
    )
    rest_match: float = Field(
        0.35, description="Similarity the leftover words need to another paper."
    )
    rest_gap: float = Field(
        0.25, description="How much closer than the matched paper that other paper must be."
    )
    rest_min_terms: int = Field(
        2, ge=1, description="Leftover terms the other paper must use (and the rule needs)."
    )
    phrase_papers_min: int = Field(
        2, ge=1, description="Fewest other papers using a question's phrase for it to count."
    )
    phrase_papers_max: int = Field(
        10, ge=1, description="Most: a phrase more papers use is common parlance."
    )
    phrase_gap: float = Field(
        0.15, description="Gap enough for one leftover word inside such a phrase."
    )
    rare_name_chunks: int = Field(
        3, ge=1, description="A name used by this few chunks identifies its paper."
    )
    min_judged_terms: int = Field(
        3, ge=1, description="Content words a question needs before its wording is judged."
    )
    reported_sentences: int = Field(
        2, ge=1, description="Sentences with figures quoted back in a premise reply."
    )

    @model_validator(mode="after")
    def _phrase_range(self) -> PremisesTuning:
        if self.phrase_papers_min > self.phrase_papers_max:
            raise ValueError("phrase_papers_min must not exceed phrase_papers_max")
        return self


class AnswerTuning(_Group):
    """Which papers an extractive answer cites and which sentences it quotes
    (``answerers``, ``extractive``); set on the citation precision and fact recall of
    eval/dev.jsonl + eval/answers_dev.jsonl."""

    near_tie_ratio: float = Field(
        0.99, description="A runner-up within this ratio of the best score is cited too."
    )
    max_single_papers: int = Field(
        2, ge=1, description="Papers cited for a question about one paper."
    )
    plural_ratio: float = Field(
        0.85, description="Ratio to the best score for papers cited when papers are asked for."
    )
    sentences_one_paper: int = Field(3, ge=1, description="Sentences for a paper cited alone.")
    sentences_broad: int = Field(
        4, ge=1, description="Sentences for a compound or short question (often a follow-up)."
    )
    short_question_words: int = Field(
        12, ge=1, description="Words up to which a question is short."
    )
    sentences_many_papers: int = Field(2, ge=1, description="Sentences per paper when several.")
    passages_per_source: int = Field(2, ge=1, description="Passages an LLM is shown per source.")
    prompt_overhead_tokens: int = Field(
        600, ge=0, description="Tokens kept for the system prompt, question and formatting."
    )
    min_source_chars: int = Field(300, ge=1, description="Least characters of a source shown.")
    lexical_weight: float = Field(
        0.6, description="Sentence score: share of the question's idf mass a sentence holds."
    )
    figure_weight: float = Field(
        0.2, description="Sentence score: a number, when the question asks for a quantity."
    )
    name_weight: float = Field(
        0.1, description="Sentence score: a name, when the question asks which dataset/model."
    )
    related_when_declining: int = Field(
        3, ge=0, description="Closest papers listed when the corpus does not hold the answer."
    )
    min_sub_question_words: int = Field(
        3, ge=1, description="Words a part of a compound question needs to count as one."
    )


class SupportTuning(_Group):
    """Claim-level support (``support.SupportChecker``): idf-weighted wording overlap."""

    supported_overlap: float = Field(0.5, description="Overlap from which a claim is supported.")
    partial_overlap: float = Field(0.25, description="Overlap from which it is partial.")
    aligned_ratio: float = Field(
        0.8,
        description="Passage sentences within this ratio of the best one's overlap are read "
        "with it (a claim may merge two sentences' facts); eval/claims_dev.jsonl.",
    )
    figure_context_chars: int = Field(
        12, ge=1, description="Characters either side of a figure that say what it measures."
    )
    negation_scope_words: int = Field(
        3, ge=1, description="Content words after a negation cue that it negates."
    )
    opposite_context_words: int = Field(
        3,
        ge=1,
        description="Content words either side of a direction word and of its opposite in the "
        "passage among which they must share one to be said of the same thing "
        '("higher latency" / "lower latency"); eval/claims_dev.jsonl.',
    )
    swapped_modifier_idf: float = Field(
        2.5,
        description="Least idf of a claim's modifier the paper never uses for it to count as "
        'exchanged for the passage\'s ("spatial" for "channel dimensions"): general words '
        '("previous", "new") are paraphrase; eval/claims_dev.jsonl.',
    )
    role_context_words: int = Field(
        1,
        ge=1,
        description="Content words either side of a named thing that say what is said of it (roles "
        "swapped between two things); eval/claims_dev.jsonl.",
    )


class Tuning(_Group):
    """All tuned numbers, grouped by the step that reads them."""

    retrieval: RetrievalTuning = RetrievalTuning()
    gate: GateTuning = GateTuning()
    conversation: ConversationTuning = ConversationTuning()
    premises: PremisesTuning = PremisesTuning()
    answer: AnswerTuning = AnswerTuning()
    support: SupportTuning = SupportTuning()

    @classmethod
    def load(cls, path: Path | None) -> Tuning:
        """The defaults, or a JSON file's values over them (a partial file is fine)."""
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TuningError(f"tuning file {path}: {error}") from None
        return cls().with_values(data, source=str(path))

    def with_values(self, values: dict[str, Any], source: str = "tuning") -> Tuning:
        """A copy with the given groups' fields changed (validated)."""
        if not isinstance(values, dict):
            raise TuningError(f"{source}: expected a JSON object of tuning groups")
        merged = self.model_dump()
        for group, fields in values.items():
            if group not in merged or not isinstance(fields, dict):
                raise TuningError(f"{source}: no tuning group {group!r}")
            merged[group].update(fields)
        try:
            return type(self).model_validate(merged)
        except ValueError as error:
            where, problem = first_problem(error)
            raise TuningError(f"{source}: {where + ': ' if where else ''}{problem}") from None

    def with_assignment(self, assignment: str) -> Tuning:
        """A copy with one ``group.field=value`` override (``premises.rest_gap=0.2``)."""
        name, sep, raw = assignment.partition("=")
        group, dot, field = name.strip().partition(".")
        if not sep or not dot:
            raise TuningError(f"--set {assignment!r}: expected group.field=value")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip()
        if field not in self.model_dump().get(group, {}):
            raise TuningError(f"--set {assignment!r}: no tuning field {group}.{field}")
        return self.with_values({group: {field: value}}, source=f"--set {assignment!r}")

    @property
    def hash(self) -> str:
        """A short md5 of the values (canonical JSON): equal values, equal hash."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.md5(canonical.encode("utf-8")).hexdigest()[:12]


class TuningError(AssistantError, ValueError):
    """A tuning file or override that cannot be used (names the file or field)."""
