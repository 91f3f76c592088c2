"""Condensing follow-ups into stand-alone queries (no model, no store)."""

from __future__ import annotations

import Stemmer

from assistant.conversation import Conversation, as_turns
from assistant.relevance import Vocabulary
from tests.units import catalog, paper, scripted_llm

_stem = Stemmer.Stemmer("english").stemWord
VOCABULARY = Vocabulary(_stem(w) for w in "dataset network segmentation road scene".split())
PAPERS = catalog(paper("d", "Deep Dual-resolution Networks"), paper("m", "Masked Autoencoders"))
LAST_ANSWER = "It is DDRNet [1].\n\n**Sources**\n[1] Deep Dual-resolution Networks"
HISTORY = [("Which network segments road scenes fastest?", LAST_ANSWER)]


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


def test_a_follow_up_carries_the_last_answers_first_cited_paper():
    conversation = Conversation(VOCABULARY, PAPERS, llm=None)
    assert conversation.standalone_query("What dataset did they use?", HISTORY) == (
        "What dataset did they use? Deep Dual-resolution Networks"
    )
    assert conversation.standalone_query("What dataset did they use?", []) == (
        "What dataset did they use?"
    )


def test_a_new_subject_is_searched_as_it_is():
    conversation = Conversation(VOCABULARY, PAPERS, llm=None)
    long_question = "Which paper reconstructs images after hiding most patches during pretraining?"
    assert conversation.standalone_query(long_question, HISTORY) == long_question
    # Short, but naming something the corpus never mentions: not a follow-up.
    assert not conversation.looks_like_follow_up("Who is Napoleon Bonaparte?")
    assert conversation.looks_like_follow_up("And the runtime?")


def test_titles_not_in_the_corpus_are_not_carried():
    conversation = Conversation(VOCABULARY, PAPERS, llm=None)
    history = [("q", "x [1]\n\n**Sources**\n[1] Some Invented Paper")]
    assert conversation.standalone_query("What dataset did they use?", history) == (
        "What dataset did they use? q"
    )


def test_the_llm_rewrites_and_the_heuristic_stands_in_when_it_fails():
    llm = scripted_llm(['"Which datasets did DDRNet use?"\nextra line', RuntimeError("down")])
    conversation = Conversation(VOCABULARY, PAPERS, llm=llm)
    assert conversation.standalone_query("What dataset did they use?", HISTORY) == (
        "Which datasets did DDRNet use? Deep Dual-resolution Networks"
    )
    assert "Deep Dual-resolution Networks" in llm.prompts[0]  # the cited titles are given
    assert conversation.standalone_query("What dataset did they use?", HISTORY) == (
        "What dataset did they use? Deep Dual-resolution Networks"
    )
