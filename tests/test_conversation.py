"""Classifying messages inside a conversation and condensing follow-ups (no model, no store)."""

from __future__ import annotations

import Stemmer

from assistant.conversation import Conversation, as_turns
from assistant.hits import PaperHit
from assistant.pipeline.steps.condense import Condense
from assistant.vocabulary import Vocabulary
from tests.units import ScriptedLookups, catalog, paper, query_state, run_step, scripted_llm

_stem = Stemmer.Stemmer("english").stemWord
WORDS = "dataset network segmentation road scene hospital scan converge training hours".split()
VOCABULARY = Vocabulary({_stem(w): 1 for w in WORDS}, documents=10)
DDRNET = paper(
    "d",
    "Deep Dual-resolution Networks",
    "Segmentation of road scenes on the Cityscapes dataset; training takes 50 hours to converge.",
)
MAE = paper("m", "Masked Autoencoders", "Masked patches are reconstructed.")
PAPERS = catalog(DDRNET, MAE)
LAST_ANSWER = "It is DDRNet [1].\n\n**Sources**\n[1] Deep Dual-resolution Networks"
HISTORY = [("Which network segments road scenes fastest?", LAST_ANSWER)]


def hit(p, score: float) -> PaperHit:
    return PaperHit(p.title, score, p.abstract, p.sources, p.paper_id)


class ScoreGate:
    """A best score of 0.5 or more counts as relevant."""

    def relevant(self, message: str, found: list[PaperHit]) -> bool:
        return bool(found) and found[0].score >= 0.5


class Chat:
    """The condense step over a scripted search: the query it settles on for a message."""

    def __init__(self, hits: list[PaperHit], llm=None):
        self.conversation = Conversation(VOCABULARY, PAPERS, llm)
        self.step = Condense(self.conversation, ScoreGate())
        self.hits = hits

    def standalone_query(self, message: str, history) -> str:
        state = query_state(message, ScriptedLookups(self.hits), turns=as_turns(history))
        assert run_step(self.step, state) == []  # condensing shows nothing
        return state.query

    def subject(self, turns):
        return self.conversation.subject(turns)


def conversation(hits: list[PaperHit], llm=None) -> Chat:
    return Chat(hits, llm)


def test_history_shapes():
    pairs = [("q1", "a1"), ["q2", "a2"]]
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    ]
    assert as_turns(pairs) == as_turns(messages) == [("q1", "a1"), ("q2", "a2")]
    assert as_turns(None) == []


def test_a_back_reference_stays_on_the_conversations_paper():
    chat = conversation(hits=[hit(MAE, 0.4)])  # nothing relevant on its own
    assert chat.standalone_query("What dataset did they use?", HISTORY) == (
        "What dataset did they use? Deep Dual-resolution Networks"
    )
    assert chat.standalone_query("What dataset did they use?", []) == "What dataset did they use?"


def test_a_follow_up_without_pronouns_stays_when_it_is_about_the_paper():
    chat = conversation(hits=[hit(MAE, 0.4)])
    question = "How many hours did training take to converge?"
    assert chat.standalone_query(question, HISTORY).endswith("Deep Dual-resolution Networks")


def test_a_confident_match_on_another_paper_switches_the_subject():
    chat = conversation(hits=[hit(MAE, 0.9)])
    question = "Separately, which paper reconstructs masked patches that were hidden?"
    assert chat.standalone_query(question, HISTORY) == question


def test_an_off_corpus_question_is_not_tied_to_the_last_answer():
    chat = conversation(hits=[hit(MAE, 0.3)])
    assert chat.standalone_query("Who painted the Mona Lisa?", HISTORY) == (
        "Who painted the Mona Lisa?"
    )
    assert chat.standalone_query("What is the chemical symbol for gold?", HISTORY) == (
        "What is the chemical symbol for gold?"
    )


def test_the_subject_outlives_a_declined_turn():
    declined = "The indexed papers do not answer this question."
    history = [*HISTORY, ("What is the chemical symbol for gold?", declined)]
    chat = conversation(hits=[hit(MAE, 0.3)])
    assert chat.subject(as_turns(history)) == DDRNET


def test_titles_not_in_the_corpus_are_not_a_subject():
    chat = conversation(hits=[])
    history = [("q", "x [1]\n\n**Sources**\n[1] Some Invented Paper")]
    assert chat.standalone_query("What dataset did they use?", history) == (
        "What dataset did they use?"
    )


def test_the_llm_rewrites_follow_ups_and_the_heuristic_stands_in_when_it_fails():
    llm = scripted_llm(['"Which datasets did DDRNet use?"\nextra line', RuntimeError("down")])
    chat = conversation(hits=[hit(MAE, 0.4)], llm=llm)
    assert chat.standalone_query("What dataset did they use?", HISTORY) == (
        "Which datasets did DDRNet use? Deep Dual-resolution Networks"
    )
    assert "Deep Dual-resolution Networks" in llm.prompts[0]  # the paper is given
    assert chat.standalone_query("What dataset did they use?", HISTORY) == (
        "What dataset did they use? Deep Dual-resolution Networks"
    )
