"""The query engine on the real corpus, with the extractive backend (no LLM)."""

from __future__ import annotations

import json

import pytest

from assistant.answer import Answer
from assistant.questions import QuestionError
from ingest import BUNDLED_PAPERS
from ingest.parsers import parse_paths
from tests.conftest import clean_env, run_module

CORPUS_TITLES = {p.title for p in parse_paths([BUNDLED_PAPERS]).papers}
DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)


def test_exact_figures_find_their_paper(assistant):
    answer = assistant.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    assert answer.answered
    assert answer.citations[0].title == DDRNET
    assert "77.4% mIoU at 102 FPS" in answer.citations[0].passage
    assert "[1]" in answer.text
    assert all(c.title in CORPUS_TITLES for c in answer.citations)
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert f"[1] {DDRNET}" in answer.markdown


def test_paraphrase_without_the_method_name(assistant):
    hits = assistant.search(
        "quantizing several channels of the attention cache jointly, exploiting their dependence",
        k=5,
    )
    assert hits[0].title.startswith("KV Cache is 1 Bit Per Channel")
    assert hits[0].abstract.startswith("Efficient deployment of Large Language Models")
    assert hits[0].sources and all(h.score >= hits[-1].score for h in hits)


def test_search_is_paper_level(assistant):
    hits = assistant.search("binary neural networks", k=10)
    assert len({h.paper_id for h in hits}) == len(hits) == 10
    assert sum("Binar" in h.title for h in hits) >= 4


def test_a_request_for_papers_searches_for_its_subject(assistant):
    """ "Which papers change …" is searched without its opening: left in, "papers" pulls the
    ranking toward abstracts about studies and the batch-normalization paper falls out."""
    question = (
        "Which papers change how batch normalization is used so that networks become cheaper "
        "to train or deploy?"
    )
    titles = [hit.title for hit in assistant.search(question, k=10)]
    assert "Efficient ConvBN Blocks for Transfer Learning and Beyond" in titles


def test_unanswerable_question_is_declined_with_related_papers(assistant):
    answer = assistant.ask("What is the best recipe for a chocolate cake?")
    assert not answer.answered
    assert answer.citations == []
    assert "do not answer" in answer.text
    assert "Possibly related" in answer.markdown


def test_follow_up_keeps_the_conversations_paper(assistant):
    first = assistant.ask("Which paper quantizes the KV cache down to 1 bit per channel?")
    history = [
        {
            "role": "user",
            "content": "Which paper quantizes the KV cache down to 1 bit per channel?",
        },
        {"role": "assistant", "content": first.markdown},
    ]
    follow = assistant.chat("What models did they evaluate it on?", history)
    assert follow.citations[0].title == first.citations[0].title
    assert first.citations[0].title in follow.query


def test_new_subject_mid_conversation_is_not_a_follow_up(assistant):
    first = assistant.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    history = [("Which work reaches 77.4% mIoU at 102 FPS?", first.markdown)]
    assert not assistant.chat("What is the capital of France?", history).answered
    short = assistant.chat("Which datasets?", history)
    assert short.citations[0].title == first.citations[0].title


@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        # the words the matched paper does not use ("code", "programming languages") are
        # another paper's subject
        (
            "Which work applies ColBERT-style late interaction to searching code across "
            "programming languages?",
            ["Jina-ColBERT-v2", "does not mention code", "“UniXcoder"],
        ),
        # the DARTS paper lacks only "graph", but "graph neural" is what GNN papers say
        (
            "Which paper uses DARTS-style differentiable architecture search to design graph "
            "neural networks?",
            ["sharpDARTS", "does not mention “graph neural”"],
        ),
    ],
)
def test_a_method_asked_about_outside_its_domain_comes_with_a_caution(
    assistant, question, fragments
):
    """The answer says no single paper covers both parts, and names the other paper."""
    answer = assistant.ask(question)
    [issue] = answer.premise_issues
    assert issue.kind == "uncovered" and answer.answered
    assert all(fragment in issue.message for fragment in fragments), issue.message


@pytest.mark.parametrize(
    "question",
    [
        # framing left over ("how much … lost")
        "How much on-chip energy does replacing softmax attention with learned binary hash "
        "codes save, and how much accuracy is lost?",
        # an acronym the paper spells out ("CNN")
        "Which method uses a CNN to improve conjugate-gradient search directions for huge "
        "Poisson systems?",
        # the paper reports both figures: the words around them are phrasing
        "Which method compresses VGG16 by a factor of 63.6 down to 8.7MB without losing accuracy?",
    ],
)
def test_genuine_paraphrases_come_without_a_caution(assistant, question):
    answer = assistant.ask(question)
    assert answer.answered and answer.premise_issues == [], question


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        (
            "What does the byte-level recursive convolutional auto-encoder for text do, and "
            "which languages was it tested on?",
            "Arabic",
        ),
        (
            "How does the codebook-based interpretability method make hidden states sparse and "
            "discrete, and how big were the language models they trained?",
            "410M",
        ),
    ],
)
def test_each_part_of_a_compound_question_gets_its_sentence(assistant, question, fact):
    """The second part asks a fact that only one sentence holds; sentences echoing the
    description in the first part must not crowd it out of the extractive answer."""
    answer = assistant.ask(question)
    assert fact in answer.text and answer.claims[0].verdict == "supported"


def test_stream_yields_text_then_answer(assistant):
    parts = list(assistant.stream("graph neural network distillation into MLPs"))
    assert isinstance(parts[-1], Answer) and all(isinstance(p, str) for p in parts[:-1])
    assert "".join(parts[:-1]) == parts[-1].text


def test_bad_questions_are_refused_clearly(assistant):
    with pytest.raises(QuestionError, match="empty"):
        assistant.ask("   \x00 ")
    with pytest.raises(QuestionError, match="limit is 2000"):
        assistant.ask("why " * 1000)
    junk = assistant.ask("\u202e\ufeff💥 ∑ ڪ 字 \U0001f600 binary neural network?")
    assert isinstance(junk, Answer)


def test_cli_json_output(corpus_store):
    settings, _ = corpus_store
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    result = run_module(
        "assistant", "search", "binary neural networks", "-k", "3", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and all(h["title"] in CORPUS_TITLES for h in hits)
    result = run_module(
        "assistant", "ask", "Which work reaches 77.4% mIoU at 102 FPS?", "--json", env=env
    )
    answer = json.loads(result.stdout)
    assert answer["citations"][0]["title"] == DDRNET and answer["backend"] == "extractive"
