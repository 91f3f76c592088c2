"""Premise checks and claim-level support (no model, no store)."""

from __future__ import annotations

import Stemmer

from assistant.hits import PaperHit
from assistant.pipeline.steps.compose import Compose, issue
from assistant.pipeline.steps.premises import Premises
from assistant.premises import Lookups, PremiseChecker
from assistant.support import SupportChecker
from assistant.text.figures import stated_figures
from assistant.text.phrasing import compares
from assistant.text.phrasing import sub_questions as split_questions
from assistant.tuning import AnswerTuning, PremisesTuning
from assistant.vocabulary import Vocabulary
from tests.units import ScriptedLookups, catalog, paper, query_state, run_step


def sub_questions(question: str) -> list[str]:
    return split_questions(question, AnswerTuning().min_sub_question_words)


class Extractive:
    backend, model = "extractive", None


class PremiseCheck:
    """The premise checker as the pipeline runs it, its findings in the compose step's
    words. ``nearest(text, include)`` and ``phrase_papers``: scripted index lookups."""

    def __init__(self, vocabulary, papers, nearest=None, phrase_papers=None):
        self.checker = PremiseChecker(vocabulary, papers, PremisesTuning())
        self.lookups = None
        if nearest is not None:
            self.lookups = Lookups(nearest, phrase_papers or (lambda first, second, limit: None))

    def check(self, question, hits):
        return [issue(finding) for finding in self.checker.check(question, hits, self.lookups)]

    def absent_titles(self, question):
        return [issue(finding) for finding in self.checker.absent_titles(question)]

    def unknown_names(self, question):
        return [issue(finding) for finding in self.checker.unknown_names(question)]

    def reply(self, question, hits):
        """The premise step, then the compose step, on a hand-built state."""
        state = query_state(question, ScriptedLookups(hits), hits=list(hits))
        run_step(Premises(self.checker), state)
        run_step(Compose(Extractive(), AnswerTuning(), "test"), state)
        return state.answer


def premise_check(vocabulary, papers, nearest=None, phrase_papers=None) -> PremiseCheck:
    return PremiseCheck(vocabulary, papers, nearest, phrase_papers)


_stem = Stemmer.Stemmer("english").stemWord
WORDS = (
    "segmentation network road scene cityscapes camvid miou fps yields gpu parameters model "
    "accuracy imagenet remote sensing images hyperdimensional computing vector symbolic "
    "architectures reaches test set achieves"
).split()
VOCABULARY = Vocabulary({_stem(w): 1 for w in WORDS}, documents=50)
DDRNET = paper(
    "d",
    "Deep Dual-resolution Networks for Semantic Segmentation of Road Scenes",
    "We segment road scenes in real time. On a single 2080Ti GPU, DDRNet-23-slim yields "
    "77.4% mIoU at 102 FPS on Cityscapes test set and 74.7% mIoU at 230 FPS on CamVid.",
)
EDGE = paper(
    "e",
    "EdgeNeXt: Efficient Mobile Vision",
    "Our EdgeNeXt model with 1.3M parameters achieves 71.2% top-1 accuracy on ImageNet-1K. "
    "Further, our EdgeNeXt model with 5.6M parameters achieves 79.4% top-1 accuracy.",
)
SAMBA = paper("s", "Samba: Segmentation of Remote Sensing Images", "Remote sensing images.")
VSA = paper("v", "Vector Symbolic Architectures", "Hyperdimensional computing with vectors.")
CHECKER = premise_check(VOCABULARY, catalog(DDRNET, EDGE, SAMBA, VSA))


def hit(p, score: float = 0.8) -> PaperHit:
    return PaperHit(p.title, score, p.abstract, p.sources, p.paper_id)


def test_stated_figures_leave_names_and_years_alone():
    assert stated_figures("Does ResNet-50 from 2016 reach 85.2% at 300 FPS on GPT-4?") == [
        "85.2",
        "300",
    ]


def test_figures_the_paper_does_not_report_are_flagged_with_their_units():
    [issue] = CHECKER.check("Why does DDRNet-23-slim reach 85.2% mIoU at 300 FPS?", [hit(DDRNET)])
    assert issue.kind == "figures" and "does not report 85.2% or 300 FPS" in issue.message
    assert CHECKER.check("Which network gets 77.4% mIoU at 102 FPS?", [hit(DDRNET)]) == []
    # "99%" is not "99 ms": the unit the question gives a figure must match.
    assert CHECKER.check("Which network gets 77 % mIoU?", [hit(DDRNET)])[0].kind == "figures"


def test_a_figure_paired_with_the_wrong_result_is_flagged():
    question = "Why does the 1.3M-parameter EdgeNeXt reach 79.4% top-1 accuracy?"
    [issue] = CHECKER.check(question, [hit(EDGE)])
    assert "reports 71.2% with 1.3M, not 79.4%" in issue.message
    assert CHECKER.check("Does the 5.6M model reach 79.4% top-1?", [hit(EDGE)]) == []


def test_quoted_titles_that_are_not_indexed():
    [issue] = CHECKER.absent_titles("What does 'Deep Residual Learning for Image Recognition' say?")
    assert issue.kind == "absent_paper" and "is not among the indexed papers" in issue.message
    assert CHECKER.absent_titles("What does 'EdgeNeXt: Efficient Mobile Vision' report?") == []
    assert CHECKER.absent_titles("Which papers use the 'fire together, wire together' rule?") == []


def test_names_the_corpus_never_mentions():
    [issue] = CHECKER.unknown_names("How does YOLOv8 design its head?")
    assert issue.message == "No indexed paper mentions YOLOv8."


def test_a_combination_no_single_paper_covers_is_a_caution():
    question = "Which paper applies hyperdimensional computing to remote sensing?"
    [issue] = CHECKER.check(question, [hit(SAMBA, 0.8), hit(VSA, 0.7)])
    assert issue.kind == "uncovered"
    assert "does not mention hyperdimensional, computing" in issue.message
    assert "“Vector Symbolic Architectures” does." in issue.message


SUPPORT = SupportChecker(VOCABULARY)
PASSAGE = DDRNET.abstract


def test_support_verdicts_and_span():
    good = SUPPORT.judge(
        "DDRNet-23-slim yields 77.4% mIoU at 102 FPS on Cityscapes [1].", DDRNET.title, PASSAGE
    )
    assert good.verdict == "supported" and "77.4% mIoU" in good.span
    invented = SUPPORT.judge("DDRNet-23-slim yields 91.3% mIoU [1].", DDRNET.title, PASSAGE)
    assert invented.verdict == "unsupported"
    other_paper = SUPPORT.judge("SBCFormer yields 77.4% mIoU at 102 FPS.", DDRNET.title, PASSAGE)
    assert other_paper.verdict != "supported"
    off_topic = SUPPORT.judge(
        "Remote sensing images need hyperdimensional computing.", DDRNET.title, PASSAGE
    )
    assert off_topic.verdict == "unsupported"
    # Character references (how corpus text is escaped in answers) are read as text.
    escaped = SUPPORT.judge("DDRNet&#45;23&#45;slim yields 77.4&#37; mIoU.", DDRNET.title, PASSAGE)
    assert escaped.verdict == "supported"


def test_a_named_method_whose_paper_is_not_the_best_match_is_a_caution():
    p2at = paper("p", "P2AT: Pyramid Pooling Axial Transformer", "P2AT segments road scenes.")
    tumours = paper("t", "Brain Tumour Segmentation", "Segmentation of brain tumours in MRI.")
    checker = premise_check(
        Vocabulary({**VOCABULARY.frequencies, "p2at": 1, "brain": 1, "tumour": 1}, 50),
        catalog(p2at, tumours),
    )
    [issue] = checker.check("How well does P2AT segment brain tumours?", [hit(tumours), hit(p2at)])
    assert (
        issue.kind == "uncovered" and "“P2AT: Pyramid Pooling Axial Transformer”" in issue.message
    )
    assert checker.check("How well does P2AT segment road scenes?", [hit(p2at), hit(tumours)]) == []


def test_a_follow_up_asking_how_a_paper_was_evaluated_is_no_combination():
    """How evaluation is asked about ("evaluate", "datasets", "results") is framing, even
    when another retrieved paper happens to use those words and the paper itself does not."""
    p2at = paper("p", "P2AT: Pyramid Pooling Axial Transformer", "We evaluate P2AT on CamVid.")
    checker = premise_check(
        Vocabulary({**VOCABULARY.frequencies, "evalu": 1, "p2at": 1}, 50), catalog(DDRNET, p2at)
    )
    question = "On which datasets did they evaluate it?"
    assert checker.check(question, [hit(DDRNET), hit(p2at, 0.7)]) == []


def test_a_figure_stated_with_a_unit_of_measure_must_be_reported_with_it():
    """ "after 20 minutes" is not borne out by a paper that trains for 1.13 hours and
    happens to have 20 layers elsewhere; "20 minutes" in the paper is."""
    bert = paper(
        "b",
        "MosaicBERT",
        "Our encoder has 20 layers. Pretraining takes 1.13 hours on 8 A100 GPUs for 79.6 GLUE.",
    )
    checker = premise_check(VOCABULARY, catalog(bert))
    question = "How does MosaicBERT reach 79.6 GLUE after only 20 minutes of pretraining?"
    [issue] = checker.check(question, [hit(bert)])
    assert issue.kind == "figures" and "does not report 20 minutes" in issue.message
    assert checker.check("How does MosaicBERT reach 79.6 GLUE with 20 layers?", [hit(bert)]) == []
    # singular or plural alike: "1.13 hour" is what "1.13 hours" says
    assert checker.check("Why is 1.13 hour of pretraining enough for 79.6 GLUE?", [hit(bert)]) == []


def test_a_method_named_by_its_own_title_but_not_retrieved_is_a_caution():
    """The domain words pull retrieval elsewhere, so the named paper is not among the
    hits at all; its title still identifies it ("TimesNet", "Poly-encoders")."""
    timesnet = paper("t", "TimesNet: Temporal 2D-Variation Modeling", "Time series analysis.")
    poly = paper("p", "Poly-encoders: Transformer Architectures", "Multi-sentence scoring.")
    checker = premise_check(
        Vocabulary({**VOCABULARY.frequencies, "timesnet": 2, "poli": 3, "encod": 40}, 50),
        catalog(DDRNET, timesnet, poly),
    )
    [issue] = checker.check(
        "What mIoU does TimesNet get on Cityscapes road scenes?", [hit(DDRNET), hit(EDGE, 0.6)]
    )
    assert (
        issue.kind == "uncovered" and "“TimesNet: Temporal 2D-Variation Modeling”" in issue.message
    )
    [issue] = checker.check(
        "How do Poly-encoders segment road scenes?", [hit(DDRNET), hit(EDGE, 0.6)]
    )
    assert "“Poly-encoders: Transformer Architectures”" in issue.message
    assert checker.check("How does TimesNet model time series?", [hit(timesnet)]) == []


def test_uncovered_is_not_judged_on_a_few_words_nor_on_a_topic_question():
    """A follow-up's one content word ("far") missing from the paper proves nothing, and
    a question asking for papers is meant to span several."""
    vocabulary = Vocabulary({**VOCABULARY.frequencies, "far": 3, "scale": 5}, 50)
    scaled = paper("x", "Scaling Study", "We scale models far beyond prior work.")
    checker = premise_check(vocabulary, catalog(DDRNET, scaled))
    assert checker.check("How far did they scale it?", [hit(DDRNET), hit(scaled, 0.7)]) == []
    topic = "Which papers apply hyperdimensional computing or segment remote sensing images?"
    assert checker.check(topic, [hit(SAMBA, 0.8), hit(VSA, 0.7)]) == []
    single = "Which paper applies hyperdimensional computing to remote sensing?"
    assert checker.check(single, [hit(SAMBA, 0.8), hit(VSA, 0.7)])[0].kind == "uncovered"


def test_a_question_about_two_subjects_taken_up_again_is_no_caution():
    """Two subjects joined after the auxiliary and referred to again as several ("what
    did each find", "do they") ask about two papers; one subject, or "each" as a
    determiner, does not."""
    two = [hit(SAMBA, 0.8), hit(VSA, 0.7)]
    for question in (
        "How do hyperdimensional computing and remote sensing models encode data, and what "
        "did each find?",
        "What do Samba and VSA encode to segment images, and how accurate are they?",
    ):
        assert compares(question) and CHECKER.check(question, two) == []
    for question in (
        "How do Sparse Transformers cut the cost of attention on long sequences, and what "
        "results did they report?",
        "How many parameters does each Gaussian carry and what speed does the codec reach?",
    ):
        assert not compares(question)


def test_the_rest_of_a_question_about_another_paper_is_a_caution():
    """What the matched paper does not say ("speech recordings"), read on its own, is
    about another paper, in meaning (the similarities ``nearest`` reports) and in words."""
    maxim = paper("m", "MAXIM: Multi-Axis MLP", "MAXIM restores noisy images with a gated MLP.")
    audio = paper("a", "Neural Audio Codec", "We compress speech recordings with a codec.")
    words = {"maxim": 1, "restor": 2, "noisi": 2, "imag": 9, "gate": 3, "mlp": 4}
    vocabulary = Vocabulary({**words, "speech": 3, "record": 2, "compress": 4}, 50)
    asked: list[tuple[str, tuple[str, ...]]] = []

    def nearest(text, include):
        asked.append((text, tuple(include)))
        return {"a": 0.55, "m": 0.2} if "speech" in text else {"a": 0.45, "m": 0.3}

    checker = premise_check(vocabulary, catalog(maxim, audio), nearest)
    hits = [hit(maxim), hit(audio, 0.6)]
    [issue] = checker.check("How does the gated MLP MAXIM restore noisy speech recordings?", hits)
    assert issue.kind == "uncovered" and "does not mention speech, recordings;" in issue.message
    assert "“Neural Audio Codec” is the closest indexed paper on that" in issue.message
    assert asked == [("speech recordings", ("m",))]  # the matched paper's similarity is asked
    # the rest is not much closer to the other paper than to the matched one
    unclear = "How does the gated MLP MAXIM restore noisy images a codec would compress?"
    assert checker.check(unclear, hits) == []
    # one leftover word is a paraphrase's choice, not a topic; acronyms may be spelled out
    assert checker.check("How does the gated MLP MAXIM restore noisy speech?", hits) == []
    assert checker.check("How does the gated MLP MAXIM restore noisy speech ASR?", hits) == []


def test_a_phrase_other_papers_use_makes_one_leftover_word_a_caution():
    """ "graph" is the only word the search paper lacks, but "graph neural" is a phrase two
    other papers use: with the leftover much closer to one of them, it is a caution."""
    search = paper("d", "Differentiable Search", "Differentiable architecture search for images.")
    gnn = paper("g", "Graph Mamba", "State space models for graph neural networks.")
    gcn = paper("h", "Deep GCNs", "Why graph neural networks degrade with depth.")
    similarities = {"g": 0.5, "h": 0.45, "d": 0.2}

    def checker_over(*papers):
        vocabulary = Vocabulary({}, 50)

        def phrase_papers(first, second, limit):  # what LexicalIndex.papers_with_phrase says
            found = set()
            for p in papers:
                terms = vocabulary.terms(f"{p.title}. {p.abstract}")
                if (first, second) in zip(terms, terms[1:]):
                    found.add(p.paper_id)
            return None if len(found) > limit else found

        return premise_check(
            vocabulary, catalog(*papers), lambda *_: dict(similarities), phrase_papers
        )

    checker = checker_over(search, gnn, gcn)
    hits = [hit(search), hit(gnn, 0.5)]
    question = (
        "Which paper uses differentiable architecture search to design graph neural networks?"
    )
    [issue] = checker.check(question, hits)
    assert issue.kind == "uncovered"
    assert "does not mention “graph neural”; “Graph Mamba” does." in issue.message
    # the two words apart in the question are no phrase
    apart = question.replace("graph neural", "graph; neural")
    assert checker.check(apart, hits) == []
    # not much closer to the phrase's papers than to the matched one, or not close at all
    similarities.update(g=0.4, h=0.4, d=0.3)
    assert checker.check(question, hits) == []
    similarities.update(g=0.3, h=0.3, d=0.0)
    assert checker.check(question, hits) == []
    # a phrase only one other paper uses is no evidence
    similarities.update(g=0.5, d=0.2)
    assert checker_over(search, gnn).check(question, hits) == []


def test_the_other_paper_must_use_the_rest_s_words_too():
    """Close in meaning only ("across … take" near "Cross-Subject") is not enough."""
    maxim = paper("m", "MAXIM: Multi-Axis MLP", "MAXIM restores noisy images with a gated MLP.")
    brain = paper("b", "Cross-Subject fMRI", "Decoding brain scans across subjects.")
    vocabulary = Vocabulary({"maxim": 1, "restor": 2, "noisi": 2, "gate": 3, "mlp": 4}, 50)
    checker = premise_check(vocabulary, catalog(maxim, brain), lambda *_: {"b": 0.6, "m": 0.1})
    question = "How does the gated MLP MAXIM restore noisy pictures taken across rooms?"
    assert checker.check(question, [hit(maxim), hit(brain, 0.5)]) == []


def test_a_compound_question_is_split_into_the_questions_it_asks():
    assert sub_questions(
        "How deep is the autoencoder that writes text byte by byte, and which languages was "
        "it tested on?"
    ) == [
        "How deep is the autoencoder that writes text byte by byte",
        "which languages was it tested on",
    ]
    assert sub_questions("Which model is it? How fast does it run on a GPU?") == [
        "Which model is it",
        "How fast does it run on a GPU",
    ]
    # one question, or a second "question" too short to stand alone: nothing to split
    assert sub_questions("Which networks mix tokens with MLPs and gates?") == []
    assert sub_questions("Which dataset and how?") == []


def test_a_question_naming_its_paper_is_judged_on_that_paper_s_figures():
    """ "30% fewer parameters" is in another retrieved paper, not in the one the question
    names: that is a false premise, and the reply quotes the named paper's own figures."""
    flexi = paper(
        "f",
        "FlexiBERT: Heterogeneous Transformer Search",
        "FlexiBERT-Mini has 3% fewer parameters than BERT-Mini and scores 8.9% higher on GLUE.",
    )
    other = paper("o", "Pruning BERT", "Pruning removes 30% of BERT parameters.")
    vocabulary = Vocabulary({**VOCABULARY.frequencies, "flexibert": 2, "bert": 30}, 50)
    checker = premise_check(vocabulary, catalog(flexi, other))
    hits = [hit(other, 0.9), hit(flexi, 0.8)]
    question = "Why does FlexiBERT-Mini need 30% fewer parameters than BERT-Mini?"
    [issue] = checker.check(question, hits)
    assert (
        issue.kind == "figures"
        and "“FlexiBERT: Heterogeneous Transformer Search” does not report 30%" in issue.message
    )
    reply = checker.reply(question, hits)
    assert reply.citations[0].title == flexi.title and "3% fewer parameters" in reply.text
    # not named: the figure may rightly be another retrieved paper's
    assert checker.check("Which method needs 30% fewer BERT parameters?", hits) == []
    named_first = [hit(flexi, 0.9), hit(other, 0.8)]
    assert checker.check("Why does FlexiBERT-Mini need 3% fewer parameters?", named_first) == []
