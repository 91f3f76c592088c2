"""Claim-level support: does the passage a sentence cites say what the sentence says?

No packaged entailment model is available offline, so support is judged with explainable
detectors, each looking for a way a fluent sentence goes wrong. The claim is first aligned
with the passage sentences that carry it (its rarest words); the detectors then read those
sentences, not the whole passage:

- figures: every quantity the claim states ("77.4%", "3x", "4 heads", "three", "5 times",
  "1.3M", "second place") must be stated with a compatible unit in the passage, and, when
  the claim gives several, each next to what it measures there ("+2.1 BLEU, +3.4 ROUGE"
  swapped is caught);
- names: method, dataset and model names ("DDRNet", "CIFAR-10") must appear in the cited
  paper (hyphens and "-like"/"-style" derivations folded); a claim about paper B cited to
  paper A fails here;
- polarity: a negation in the claim the aligned sentences do not carry, or the reverse
  when the negated words are the claim's own ("does not need labels" vs "needs labels"),
  and direction words turned into their opposites (higher/lower, outperforms/underperforms);
  a double negation ("no part uncompressed"), a negative prefix ("unlabeled" for "without
  labels") and a rejection the claim does not paraphrase ("instead of weight-sharing" where
  a closer sentence states weight-sharing) contradict nothing;
- comparisons: the sides of a comparison exchanged ("B outperforms A", "A is outperformed
  by B", "B has lower latency than A" where the passage has A ahead of B);
- strength: quantifiers, superlatives and certainty the passage does not carry ("all",
  "always", "guarantees", "first", "best");
- wording: the share of the claim's content words (idf-weighted, stemmed) found in the
  passage. Low overlap means the passage is about something else.

Verdicts: ``supported``, ``partial`` (no contradiction found, but the passage covers the
claim only in part, or less strongly) and ``unsupported``. Every verdict but ``supported``
carries a :class:`Reason` (a code and its values), which the compose step words for the
reader; the span is the aligned passage sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.answer import Verdict
from assistant.text.coordination import respective_pairs
from assistant.text.figures import (
    Quantity,
    coordinated,
    quantities,
    ranges,
    respective_items,
)
from assistant.text.polarity import (
    MEASURE_NOUNS,
    OPPOSITES,
    PARITY,
    PARITY_SUPPORT,
    PRIVATIVES,
    ROLE_OPPOSITES,
    SLOT_WORDS,
    STRENGTH,
    STRENGTH_SAID_AS,
    SUPERIORITY,
    Comparison,
    clauses,
    comparisons,
    hedge_in,
    hedged,
    lower_words,
    negated_span,
    negated_subject,
    negation_cues,
    parity_claimed,
    phrased,
    predicate_negated,
    prefix_base,
    sets_against,
    without_minimisers,
)
from assistant.text.sentences import plain, split_sentences
from assistant.text.words import (
    NOUN_PHRASE_OPENERS,
    REFERENTIAL_ADJECTIVES,
    STOPWORDS,
    folded,
    loose_words,
    may_modify,
    names_in,
    underived,
)
from assistant.tuning import SupportTuning
from assistant.vocabulary import Vocabulary


@dataclass(frozen=True)
class Reason:
    """Why a claim is not (fully) supported: a code the compose step words
    (``prompts/reason_<code>.txt``) and the values the wording needs."""

    code: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    span: str | None  # the passage sentence the claim was judged against
    reason: Reason | None = None


_COPULAS = frozenset("is are was were be been being remains remain stays becomes".split())


def _weight(keys: set[str], units: dict[str, int]) -> int:
    """The summed weight of these units of a comparison's side."""
    return sum(units[key] for key in keys)


def _same_scale(one: Comparison, other: Comparison) -> bool:
    """Whether two comparisons rank on one scale: the same upper word ("higher"), of the same
    quantity when both name one ("higher throughput" is not "higher latency")."""
    if one.scale != other.scale:
        return False
    return one.head is None or other.head is None or one.head == other.head


def _quoted(claim: str, title: str, passage: str) -> bool:
    """Whether the claim quotes the passage word for word (after "Title:", as the
    extractive answer writes it)."""
    text = " ".join(claim.split())
    if text.startswith(title):
        text = text[len(title) :].lstrip(" :")
    return bool(text) and text in " ".join(passage.split())


class SupportChecker:
    """Judges one claim against one cited source (its title and the passage shown)."""

    def __init__(self, vocabulary: Vocabulary, tuning: SupportTuning | None = None):
        self.vocabulary = vocabulary
        self.tuning = tuning or SupportTuning()
        # the direction opposites by stem, as words are compared ("increases" / "reduced")
        stem = vocabulary.stem
        self._opposite_stems: dict[str, set[str]] = {}
        for word, opposites in OPPOSITES.items():
            self._opposite_stems.setdefault(stem(word), set()).update(map(stem, opposites))
        self._slot_stems = {stem(word) for word in SLOT_WORDS}

    def judge(self, claim: str, title: str, passage: str) -> Judgement:
        claim = plain(claim)
        source = f"{title}. {passage}"
        sentences = split_sentences(passage) or ([passage] if passage else [])
        aligned = self._aligned(claim, sentences)
        span = aligned[0] if aligned else None
        if _quoted(claim, title, passage):  # the passage's own words: entailed
            return Judgement("supported", span)
        found = (
            self._figures(claim, source)
            or self._names(claim, source)
            or self._polarity(claim, aligned)
            or self._roles_swapped(claim, aligned)
            or self._comparison_reversed(claim, aligned)
            or self._modifier_swapped(claim, aligned, source)
        )
        if found is not None:
            return Judgement("unsupported", span, found)
        tuning = self.tuning
        overlap = self._overlap(claim, source)
        if overlap < tuning.partial_overlap:
            return Judgement("unsupported", span, Reason("off_topic"))
        if overlap < tuning.supported_overlap:
            return Judgement("partial", span, Reason("in_part"))
        stronger = (
            self._strength(claim, source)
            or self._parity(claim, aligned)
            or self._tie_claimed(claim, aligned)
            or self._hedge_dropped(claim, aligned)
        )
        if stronger is not None:
            return Judgement("partial", span, stronger)
        return Judgement("supported", span)

    # --- alignment -------------------------------------------------------------------
    def _aligned(self, claim: str, sentences: Sequence[str]) -> list[str]:
        """The passage sentences that carry the claim, best first: the best one and any
        close to it (a claim may merge two sentences' facts)."""
        if not sentences:
            return []
        terms = self.vocabulary.terms(claim)
        scored = sorted(
            ((self.vocabulary.share(terms, self.vocabulary.terms(s)), s) for s in sentences),
            key=lambda pair: -pair[0],
        )
        best = scored[0][0]
        return [s for score, s in scored if score >= self.tuning.aligned_ratio * best] or [
            scored[0][1]
        ]

    # --- figures ---------------------------------------------------------------------
    def _figures(self, claim: str, source: str) -> Reason | None:
        stated = quantities(claim, in_names=False)
        if not stated:
            return None
        reported = quantities(source)
        for quantity in stated:
            if not any(quantity.matches(other) for other in reported):
                return Reason("figure_absent", {"figure": quantity.written.strip()})
        if len(stated) >= 2:
            return self._swapped(claim, stated, source, reported)
        return None

    def _swapped(
        self,
        claim: str,
        stated: Sequence[Quantity],
        source: str,
        reported: Sequence[Quantity],
    ) -> Reason | None:
        """Two figures exchanged between what they measure: a figure's own neighbouring
        words in the claim stand next to another of the claim's figures in the passage, and
        not next to its own. A range ("4x-9x") counts as one figure."""
        window = self.tuning.figure_context_chars

        def near(text: str, start: int, end: int) -> set[str]:
            around = f"{text[max(0, start - window) : start]} {text[end : end + window]}"
            return set(self.vocabulary.terms(around))

        # figures the passage states as one list share the words around the list: those
        # words say nothing of which figure measures what
        lists = coordinated(source, reported)
        list_of = {id(q): group for group in lists for q in group}

        def near_in_source(group: Sequence[Quantity]) -> set[str]:
            return {
                term
                for q in group
                for other in reported
                if q.matches(other)
                for member in list_of[id(other)]
                for term in near(source, member.start, member.end)
            }

        groups = ranges(claim, stated)
        contexts = [near(claim, group[0].start, group[-1].end) for group in groups]
        for index, group in enumerate(groups):
            paired = self._respective(claim, groups, index, source, lists)
            if paired is not None:
                if paired:
                    return Reason("figure_swapped", {"figure": group[0].written.strip()})
                continue
            # what sets this figure apart: not the words around the claim's other figures
            # ("hours" in "130 hours … 50 hours")
            others = set().union(*(c for k, c in enumerate(contexts) if k != index))
            own = contexts[index] - others
            if not own or own & near_in_source(group):
                continue
            if any(own & near_in_source(other) for k, other in enumerate(groups) if k != index):
                return Reason("figure_swapped", {"figure": group[0].written.strip()})
        return None

    def _respective(
        self,
        claim: str,
        groups: Sequence[Sequence[Quantity]],
        index: int,
        source: str,
        lists: Sequence[Sequence[Quantity]],
    ) -> bool | None:
        """For a claim figure the passage states in a two-figure list paired in order with
        what each measures ("3.9 and 3.4 points over U-Net and wide U-Net, respectively"):
        whether the claim gives it the other item's measure (what sets the other item
        apart follows it, nothing that sets its own apart does). None when the passage
        pairs no items with it."""
        figure = groups[index]
        for group in lists:
            position = next(
                (i for i, q in enumerate(group) if len(figure) == 1 and figure[0].matches(q)),
                None,
            )
            items = respective_items(source, group) if position is not None else None
            if items is None or position is None:
                continue
            terms = [set(self.vocabulary.terms(item)) for item in items]
            own, other = (
                terms[position] - terms[1 - position],
                terms[1 - position] - terms[position],
            )
            following = groups[index + 1][0].start if index + 1 < len(groups) else len(claim)
            after = clauses(claim[figure[-1].end : following])
            said = set(self.vocabulary.terms(after[0])) if after else set()
            return bool(said & other) and not said & own
        return None

    # --- names -----------------------------------------------------------------------
    def _names(self, claim: str, source: str) -> Reason | None:
        folded_source = folded(source)

        def present(part: str) -> bool:
            word = folded(part)
            return not word or word in folded_source or word.rstrip("s") in folded_source

        for name in sorted(names_in(claim)):
            base = underived(name)
            # a compound of words the paper uses ("attention-SAE") is not a new name
            if not present(base) and not all(present(part) for part in base.split("-")):
                return Reason("name_absent", {"term": name})
        return None

    # --- polarity --------------------------------------------------------------------
    def _polarity(self, claim: str, aligned: Sequence[str]) -> Reason | None:
        if not aligned:
            return None
        claim_words = phrased(lower_words(claim))
        span_words = [w for sentence in aligned for w in phrased(lower_words(sentence))]
        # a removal both texts speak of ("removing X hurts" / "hurts when X is removed")
        # is what they are about, not a negation one of them drops
        shared = self._privative_stems(claim_words) & self._privative_stems(span_words)
        claim_scopes = self._negated_scopes(claim, shared)
        sentence_scopes = [self._negated_scopes(sentence, shared) for sentence in aligned]
        span_scopes = [scope for scopes in sentence_scopes for scope in scopes]
        # what each side states plainly: its terms outside every negation's scope and the
        # words a negation may reach ("no two images come from the same category")
        claim_negated = self._negated_words(claim)
        span_negated = self._negated_words(*aligned)
        # (two-word verbs and phrases read in their one-word sense: "at the cost of")
        claim_free = set(self.vocabulary.terms(" ".join(claim_words))).difference(
            claim_negated, *(terms for terms, _ in claim_scopes)
        )
        span_free = set(self.vocabulary.terms(" ".join(span_words))).difference(
            span_negated, *(terms for terms, _ in span_scopes)
        )
        # words a negative prefix denies ("unlabeled"): the text negates them as well
        claim_unsaid = self._prefix_denied(claim_words)
        span_unsaid = self._prefix_denied(span_words)
        # the claim negates what the passage states plainly, unless the passage says the
        # same with an opposite word ("does not generalize well" / "generalizes poorly")
        antonym = self._opposed(claim_words, span_words)
        said_by_antonym = antonym is not None and (
            self.vocabulary.stem(antonym.values["claimed"]) in claim_negated
        )
        # "unlike X, Y …" against a sentence that sets X against Y in its own way ("although
        # X …, Y …") contrasts the same two things: X is not denied
        contrasted = any(sets_against(sentence) for sentence in aligned)
        added_scopes = self._negated_scopes(claim, shared, contrasted)
        if not said_by_antonym and any(
            self._denies(scope, span_free - span_unsaid, span_scopes) for scope in added_scopes
        ):
            return Reason("negation_added", {"span": aligned[0]})
        # or the reverse, where the claim states it in a clause without a negation of its
        # own ("no improvement from more layers" / "more layers do not help")
        claim_plain = claim_free.intersection(self._unnegated_clause_terms(claim_words)) - (
            claim_unsaid
        )
        for index, scopes in enumerate(sentence_scopes):
            for scope in scopes:
                if self._denies(scope, claim_plain, claim_scopes) and not self._restated(
                    claim, scope, aligned, index
                ):
                    return Reason("negation_dropped", {"span": aligned[0]})
        # a comparison said from the other side ("B trails A" / "A outperforms B") states
        # the same with the opposite word
        agreed = {c.cue for c, agrees, _ in self._compared(claim, aligned) if agrees}
        return self._opposed(
            claim_words, span_words, claim_negated, span_negated, agreed
        ) or self._opposites_exchanged(claim_words, span_words)

    def _opposites_exchanged(
        self, claim_words: Sequence[str], span_words: Sequence[str]
    ) -> Reason | None:
        """Two opposite words both texts use, each said of what the other is said of in
        the passage: "turns easy images into hard ones" for "hard images into easy ones",
        "maximizes the similarity of A and minimizes that of B" turned round. A word is
        said of the noun right after it."""
        stem = self.vocabulary.stem
        claim_stems = {stem(w) for w in claim_words}
        span_stems = {stem(w) for w in span_words}
        for word in dict.fromkeys(claim_words):
            own = stem(word)
            if own not in span_stems:
                continue
            for other in sorted(self._opposite_stems.get(own, set()) & claim_stems & span_stems):
                said_of = self._before(own, claim_words)
                if said_of & self._before(other, span_words) and not said_of & self._before(
                    own, span_words
                ):
                    stated = next(w for w in span_words if stem(w) == other)
                    return Reason("direction", {"claimed": word, "stated": stated})
        return None

    def _unnegated_clause_terms(self, words: Sequence[str]) -> set[str]:
        """The content terms of the clauses whose predicate no negation denies."""
        terms: set[str] = set()
        for clause in clauses(" ".join(words)):
            clause_words = phrased(lower_words(clause))
            if not predicate_negated(clause_words):
                terms.update(self.vocabulary.terms(" ".join(clause_words)))
        return terms

    def _privative_stems(self, words: Sequence[str]) -> set[str]:
        """The stems of the privative verbs among the words ("removing" → "remov")."""
        return {self.vocabulary.stem(w) for w in words if w in PRIVATIVES}

    def _prefix_denied(self, words: Sequence[str]) -> set[str]:
        """The stems of the bases of the words with a negative prefix ("unlabeled" →
        "label"): what the text says is absent or not done."""
        return {self.vocabulary.stem(base) for w in words if (base := prefix_base(w))}

    def _restated(
        self, claim: str, scope: tuple[list[str], bool], aligned: Sequence[str], index: int
    ) -> bool:
        """Whether another aligned sentence that shares more of the claim's words than the
        negating one states the negated words plainly: the claim paraphrases that sentence
        ("reduces search cost by weight-sharing"), not the one that rejects them
        ("instead of weight-sharing")."""
        terms = self.vocabulary.terms(claim)
        negated = set(scope[0])
        own = self.vocabulary.share(terms, self.vocabulary.terms(aligned[index]))
        for other_index, other in enumerate(aligned):
            if other_index == index:
                continue
            plain_terms = set(self.vocabulary.terms(other)).difference(
                *(t for t, _ in self._negated_scopes(other))
            )
            said = negated & plain_terms & set(terms)
            if said and self.vocabulary.share(terms, self.vocabulary.terms(other)) > own:
                return True
        return False

    def _opposed(
        self,
        claim_words: Sequence[str],
        span_words: Sequence[str],
        claim_negated: set[str] = frozenset(),
        span_negated: set[str] = frozenset(),
        agreed: set[str] = frozenset(),
    ) -> Reason | None:
        """A direction word of the claim whose opposite the aligned sentences use instead
        ("lower" for "higher", "unstable" for "stable"), said of the same thing: the two
        share a content word close by ("lower latency" / "higher latency"). Position and
        degree words must modify the same next word ("high-resolution" / "low-resolution").
        A word under a negation agrees with its opposite said plainly ("leaves no part
        uncompressed" / "compresses all parts"). A word the passage uses too is still
        opposed where the passage puts its opposite before the same next word instead
        ("smaller receptive fields" / "larger receptive fields than smaller kernels")."""
        stem = self.vocabulary.stem
        stems = {stem(w) for w in span_words}
        claim_stems = {stem(w) for w in claim_words}
        for word in dict.fromkeys(claim_words):
            if word in agreed:
                continue
            own = stem(word)
            for other in self._opposites(word, span_words):
                if (own in claim_negated) != (other in span_negated):
                    continue  # a double negation: "not unlike", "no part uncompressed"
                if own in stems:
                    related = (
                        self._before(own, claim_words) & self._before(other, span_words)
                    ) - self._before(own, span_words)
                elif own in self._slot_stems and word in SLOT_WORDS:
                    related = self._before(own, claim_words) & self._before(other, span_words)
                else:
                    related = self._around(own, claim_words) & self._around(other, span_words)
                if related and other not in claim_stems:
                    stated = next(w for w in span_words if stem(w) == other)
                    return Reason("direction", {"claimed": word, "stated": stated})
        return None

    def _negated_words(self, *texts: str) -> set[str]:
        """The stems of the words within a negation's scope in the texts."""
        size = self.tuning.negation_scope_words
        found: set[str] = set()
        for text in texts:
            for clause in clauses(text):
                words = phrased(lower_words(clause))
                for start, _ in negation_cues(words):
                    scope, _ = negated_span(words, start, size)
                    found.update(self.vocabulary.stem(w) for w in scope)
                    found.update(self.vocabulary.terms(" ".join(negated_subject(words, start))))
        return found

    def _opposites(self, word: str, other_words: Sequence[str]) -> list[str]:
        """The stems of the other text's words that are the word's opposites: a listed
        antonym, or the same word with or without a negative prefix."""
        stem = self.vocabulary.stem
        other_stems = {stem(w) for w in other_words}
        found = sorted(self._opposite_stems.get(stem(word), set()) & other_stems)
        base = prefix_base(word)
        if base is not None and stem(base) in other_stems:
            found.append(stem(base))
        found += [stem(w) for w in other_words if (b := prefix_base(w)) and stem(b) == stem(word)]
        return list(dict.fromkeys(found))

    def _around(self, own: str, words: Sequence[str]) -> set[str]:
        """The content terms within a few content words of each word of this stem."""
        window = self.tuning.opposite_context_words
        found: set[str] = set()
        for i, word in enumerate(words):
            if self.vocabulary.stem(word) != own:
                continue
            before = [t for w in words[:i] for t in self.vocabulary.terms(w)]
            after = [t for w in words[i + 1 :] for t in self.vocabulary.terms(w)]
            found.update(before[-window:] + after[:window])
        return found - {own} - self._opposite_stems.get(own, set())

    def _before(self, stem: str, words: Sequence[str]) -> set[str]:
        """The content terms that directly follow a word of this stem: the noun it
        modifies ("resolution" after "high"; "parameters" after "fewer number of")."""
        found = set()
        for i in range(len(words) - 1):
            if self.vocabulary.stem(words[i]) != stem:
                continue
            j = i + 1
            if j + 2 < len(words) and words[j] in MEASURE_NOUNS and words[j + 1] == "of":
                j += 2
            head = next(iter(self.vocabulary.terms(words[j])), "")
            if not head and i >= 2 and words[i - 1] in _COPULAS:
                # said after a verb of being: of its subject ("the accuracy is higher")
                head = next(iter(self.vocabulary.terms(words[i - 2])), "")
            found.add(head)
        return found - {""}

    def _negated_scopes(
        self, text: str, shared: set[str] = frozenset(), contrasts: bool = False
    ) -> list[tuple[list[str], bool]]:
        """The content terms each negation cue negates (the next few, within its clause),
        and whether its first is a verb the cue negates on its own ("fails to
        generalize"). Privatives whose stems are in ``shared`` are left out, and, with
        ``contrasts``, the contrasts ("unlike X", "in contrast to X")."""
        size = self.tuning.negation_scope_words
        scopes = []
        for clause in clauses(text):
            words = phrased(lower_words(clause))
            for start, verb_led in negation_cues(words):
                cue = words[start - 1]
                if cue in PRIVATIVES and self.vocabulary.stem(cue) in shared:
                    continue
                if contrasts and cue == "unlike":
                    continue
                scope, limit = negated_span(words, start, size)
                terms = self.vocabulary.terms(" ".join(scope))[:limit]
                terms = (
                    self.vocabulary.terms(" ".join(negated_subject(words, start)))[-size:] + terms
                )
                if terms:
                    scopes.append((terms, verb_led))
        return scopes

    @staticmethod
    def _denies(
        scope: tuple[list[str], bool],
        stated: set[str],
        other_scopes: Sequence[tuple[list[str], bool]] = (),
    ) -> bool:
        """Whether a negated scope is what the other text states: its words, two of them
        when it has two or more ("without mask tokens" does not deny "masks patches"), or
        the verb a verb cue negates ("fails to generalize" denies "generalizes well").
        A scope the other text negates too (two words in common) is denied by nothing;
        a word the other text negates elsewhere counts for none of the two ("X rather
        than starting from scratch" against "starting from X rather than scratch")."""
        terms, verb_led = scope
        own = set(terms)
        if any(len(own.intersection(other)) >= min(2, len(own)) for other, _ in other_scopes):
            return False
        if verb_led and terms[0] in stated:
            return True
        other_scoped = {t for other, _ in other_scopes for t in other}
        needed = min(2, max(1, len(own - other_scoped)))
        return len(stated.intersection(terms)) >= needed

    # --- roles -----------------------------------------------------------------------
    def _anchor(self, word: str) -> str | None:
        """The key of a word that names a thing a sentence says something about: a name
        ("E4M3"), a hyphenated technical term ("decoder-only", "bi-encoders") or one side
        of an opposite pair ("top", "forward"); None for any other word."""
        key = folded(word).removesuffix("s")
        if not key:
            return None
        if "-" in word.strip("-") or names_in(word) or self.vocabulary.stem(word) in ROLE_OPPOSITES:
            return key
        return None

    def _role_contexts(self, words: Sequence[str]) -> dict[str, set[str]]:
        """For each anchor of the words, the content terms within a few content words of
        it (other anchors left out)."""
        window = self.tuning.role_context_words
        content = [(w, self._anchor(w)) for w in words if self.vocabulary.terms(w)]
        contexts: dict[str, set[str]] = {}
        for i, (_, key) in enumerate(content):
            if key is None:
                continue
            near = content[max(0, i - window) : i] + content[i + 1 : i + window + 1]
            terms = self.vocabulary.terms(" ".join(w for w, k in near if k is None))
            contexts.setdefault(key, set()).update(terms)
        return contexts

    def _roles_swapped(self, claim: str, aligned: Sequence[str]) -> Reason | None:
        """Two things the claim and the passage both name, with what is said of them
        exchanged ("the top layer of the decoder to the bottom layer of the encoder" for
        "the bottom layer of the decoder to the top layer of the encoder"; "bi-encoders
        perform best" where cross-encoders do): the words that set one apart in the claim
        stand next to the other in the passage, and not next to it."""
        claimed = self._role_contexts(loose_words(claim))
        stated = self._role_contexts([w for s in aligned for w in loose_words(s)])
        # "A and B respectively in X and Y": A is said of X and B of Y
        for sentence in aligned:
            for said, of in respective_pairs(sentence):
                key = self._anchor(of)
                if key is not None:
                    stated.setdefault(key, set()).update(self.vocabulary.terms(said))
        shared = [key for key in claimed if key in stated]
        if len(shared) < 2:
            return None

        def own(key: str) -> set[str]:  # what sets it apart in the claim
            return claimed[key] - set().union(*(claimed[k] for k in shared if k != key))

        for key in shared:
            mine = own(key)
            if not mine or mine & stated[key]:
                continue
            # an exchange: its words stand next to the other, and the other's (if it has
            # any of its own) next to it
            swapped = next(
                (
                    k
                    for k in shared
                    if k != key and mine & stated[k] and (not own(k) or own(k) & stated[key])
                ),
                None,
            )
            if swapped is not None:
                word = next(w for w in loose_words(claim) if self._anchor(w) == key)
                return Reason("roles_swapped", {"term": word})
        return None

    # --- a comparison turned round ---------------------------------------------------------
    def _side_units(self, words: Sequence[str]) -> dict[str, int]:
        """The content units of one side of a comparison, with their weight: a name or a
        hyphenated term ("TabNet", "decoder-only") is one unit of weight 3, any other
        content word its stem, of weight 1."""
        units: dict[str, int] = {}
        for word in words:
            if "-" in word.strip("-") or names_in(word):
                key = folded(word).removesuffix("s")
                if key:
                    units[key] = 3
            else:
                for term in self.vocabulary.terms(word):
                    units.setdefault(term, 1)
        return units

    def _comparison_reversed(self, claim: str, aligned: Sequence[str]) -> Reason | None:
        """A comparison whose sides the claim exchanges: "B outperforms A", "A is
        outperformed by B" or "B has lower latency than A" where the passage has A ahead of
        B on the same scale. The things the claim puts ahead stand behind in the passage,
        by more than twice the weight of what the two put on the same side (by more than
        that weight where those it puts behind stand ahead too); a comparison of the
        passage that agrees with the claim's clears it."""
        readings = self._compared(claim, aligned)
        if any(reversed_ and not agrees for _, agrees, reversed_ in readings):
            return Reason("comparison_reversed", {"span": aligned[0]})
        return None

    def _compared(self, claim: str, aligned: Sequence[str]) -> list[tuple[Comparison, bool, bool]]:
        """Each comparison of the claim, whether a comparison of the aligned sentences on
        its scale agrees with it (the same things ahead and behind), and whether one has
        its sides the other way round."""
        stated = [c for sentence in aligned for c in comparisons(sentence)]
        if not stated:
            return []
        readings = []
        for claimed in comparisons(claim):
            agrees = reversed_ = False
            ahead, behind = self._sides(claimed)
            for other in stated:
                if not _same_scale(claimed, other):
                    continue
                other_ahead, other_behind = self._sides(other)
                if not (ahead and other_behind and claimed.behind and other.ahead):
                    continue  # "… than the models it beats": one side only
                crossed = _weight(ahead.keys() & other_behind.keys(), ahead) + _weight(
                    behind.keys() & other_ahead.keys(), behind
                )
                same = _weight(ahead.keys() & other_ahead.keys(), ahead) + _weight(
                    behind.keys() & other_behind.keys(), behind
                )
                if same and same >= crossed:
                    agrees = True
                elif ahead.keys() & other_behind.keys() and (
                    crossed > 2 * same
                    # both sides crossed over: a swap even where a verb or setting both
                    # put on one side ("A runs faster than B" / "B runs faster than A")
                    or (crossed > same and behind.keys() & other_ahead.keys())
                ):
                    reversed_ = True
            readings.append((claimed, agrees, reversed_))
        return readings

    def _sides(self, comparison: Comparison) -> tuple[dict[str, int], dict[str, int]]:
        """The units of the side ahead and of the side behind, each without those the other
        side holds too (a setting both share: "on edge devices")."""
        ahead = self._side_units(comparison.ahead)
        behind = self._side_units(comparison.behind)
        shared = ahead.keys() & behind.keys()
        return (
            {k: v for k, v in ahead.items() if k not in shared},
            {k: v for k, v in behind.items() if k not in shared},
        )

    # --- a modifier exchanged ------------------------------------------------------------
    def _modified(self, text: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """Each word that opens a noun phrase (after a determiner, preposition or
        conjunction) and modifies the noun after it, within a clause: (the modifier as
        written, the head as written, the head's terms)."""
        pairs = []
        for clause in clauses(text):
            words = loose_words(clause)
            for before, modifier, head in zip(words, words[1:], words[2:], strict=False):
                head_terms = tuple(self.vocabulary.terms(head))
                if (
                    head_terms
                    and before.lower() in NOUN_PHRASE_OPENERS
                    and modifier.lower() not in STOPWORDS | STRENGTH
                    and self.vocabulary.terms(modifier)
                    and not head.endswith("ly")
                ):
                    pairs.append((modifier, head, head_terms))
        return pairs

    def _specific(self, word: str) -> bool:
        """Whether every term of the word is rarer than the general words a paraphrase
        swaps freely ("previous", "multiple")."""
        terms = self.vocabulary.terms(word)
        return bool(terms) and min(map(self.vocabulary.idf, terms)) >= (
            self.tuning.swapped_modifier_idf
        )

    def _modifier_swapped(self, claim: str, aligned: Sequence[str], source: str) -> Reason | None:
        """A thing the passage names with one modifier named in the claim with another the
        paper never uses ("self-attention across the spatial dimensions" where the passage
        has "channel dimensions"; "change-point detection" for "anomaly detection"): both
        modifiers are specific words (idf), the claim's is absent from the whole source,
        and the head is the same."""
        source_terms = set(self.vocabulary.terms(source))
        folded_source = folded(source)
        claimed = self._modified(claim)
        claim_pairs = {(tuple(self.vocabulary.terms(m)), h) for m, _, h in claimed}
        stated = [pair for sentence in aligned for pair in self._modified(sentence)]
        for modifier, head, head_terms in claimed:
            if (
                not may_modify(modifier)
                or names_in(modifier)
                or folded(modifier) in folded_source
                or source_terms.intersection(self.vocabulary.terms(modifier))
                or not self._specific(modifier)
            ):
                continue
            other = next(
                (
                    m
                    for m, _, h in stated
                    if h == head_terms
                    and self._specific(m)
                    and m.lower() not in REFERENTIAL_ADJECTIVES
                    and (tuple(self.vocabulary.terms(m)), h) not in claim_pairs
                ),
                None,
            )
            if other is not None:
                return Reason(
                    "term_swapped", {"claimed": f"{modifier} {head}", "stated": f"{other} {head}"}
                )
        return None

    # --- strength --------------------------------------------------------------------
    def _strength(self, claim: str, source: str) -> Reason | None:
        source_words = set(lower_words(source))
        for word in lower_words(without_minimisers(claim)):
            if word in STRENGTH and not ({word} | STRENGTH_SAID_AS.get(word, set())) & source_words:
                return Reason("stronger", {"word": word})
        return None

    @staticmethod
    def _parity(claim: str, aligned: Sequence[str]) -> Reason | None:
        """A win ("outperforms") where the sentences carrying the claim state only a tie
        ("comparable to", "competitive with")."""
        span_words = {w for sentence in aligned for w in lower_words(sentence)}
        ties = [w for sentence in aligned for w in lower_words(sentence) if w in PARITY]
        if not ties or span_words & SUPERIORITY:
            return None
        win = next((w for w in lower_words(claim) if w in SUPERIORITY), None)
        if win is None:
            return None
        return Reason("direction", {"claimed": win, "stated": ties[0]})

    @staticmethod
    def _tie_claimed(claim: str, aligned: Sequence[str]) -> Reason | None:
        """A tie or a closed gap ("on par with", "closes the gap to") where the sentences
        carrying the claim state neither a tie, nor a win, nor a loss called small: the
        passage gives a gap (or only figures) and the claim says it is gone."""
        claimed = parity_claimed(claim)
        if claimed is None:
            return None
        span_words = {w for sentence in aligned for w in lower_words(sentence)}
        if span_words & (PARITY | SUPERIORITY | PARITY_SUPPORT):
            return None
        return Reason("stronger", {"word": claimed})

    def _hedge_dropped(self, claim: str, aligned: Sequence[str]) -> Reason | None:
        """The clause carrying the claim hedges it ("possible in principle", "preliminary
        results suggest") and the claim carries no hedge: a possibility stated as a result.
        A hedge in another clause of the sentence ("…, and may transfer to other tasks")
        is about something else."""
        if not aligned or hedged(claim):
            return None
        terms = self.vocabulary.terms(claim)
        carrying = max(
            clauses(aligned[0]) or [aligned[0]],
            key=lambda part: self.vocabulary.share(terms, self.vocabulary.terms(part)),
        )
        hedge = hedge_in(carrying)
        return Reason("hedge_dropped", {"word": hedge}) if hedge else None

    def _overlap(self, claim: str, source: str) -> float:
        terms = self.vocabulary.terms(claim)
        if not terms:
            return 1.0  # nothing to check beyond figures and names
        return self.vocabulary.share(terms, self.vocabulary.terms(source))
