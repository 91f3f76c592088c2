"""The one sentence splitter (assistant/text/sentences.py): Punkt with the abbreviations of
papers, citation markers kept with their sentence, answers cut losslessly into claims."""

from __future__ import annotations

import pytest

from assistant.text.sentences import claim_units, sentence_spans, split_sentences


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Compared with state space models, e.g. Mamba, it scales better.",
        "Heads are polysemantic, i.e. have multiple unrelated roles.",
        "As shown by Vaswani et al. (2017), attention suffices.",
        "In SimCLR Chen et al. shows that augmentations matter.",
        "The decoder is light (see Fig. 2) and fast.",
        "It reaches 96.53% vs. 97.22% for the teacher.",
        "BPE vs. unigram tokenizers are compared.",
        "Inference takes approx. 30 ms per image.",
        "The scans come from St. Olav University Hospital in Trondheim.",
        "Complexity grows quadratically w.r.t. the sequence length.",
        "Data streams are i.i.d. and labels are abundant.",
        "Models (CNNs, RNNs, etc.) are compared.",
        "Results are in Sec. 4.2 and Eq. 3 of the paper.",
        "We study C. elegans locomotion circuits.",
        "It matches LLaVA-v1.5-7B and v2.1 of the benchmark, at 0.87 ± 0.02 Dice.",
        "Code is at https://github.com/example/repo.git and docs at example.org.",
    ],
)
def test_abbreviations_numbers_and_urls_do_not_end_a_sentence(text):
    assert sentences(text) == [text]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Both scale well. xLSTM's gates help.",
            ["Both scale well.", "xLSTM's gates help."],
        ),
        (
            "It is a plug-in module. g^nConv improves ViTs.",
            ["It is a plug-in module.", "g^nConv improves ViTs."],
        ),
        (
            "Point clouds are hard. 3D scenes are harder.",
            ["Point clouds are hard.", "3D scenes are harder."],
        ),
        (
            "It works on maps, edges, etc. The survey ends.",
            ["It works on maps, edges, etc.", "The survey ends."],
        ),
        (
            "Memory drops by 2x and 4x, resp. We propose a fix.",
            ["Memory drops by 2x and 4x, resp.", "We propose a fix."],
        ),
        (
            "It scales with sequence length L. The cost is lower.",
            ["It scales with sequence length L.", "The cost is lower."],
        ),
        (
            "How do they look? What basis do they use? We answer both.",
            ["How do they look?", "What basis do they use?", "We answer both."],
        ),
    ],
)
def test_sentences_may_start_lowercase_or_with_a_digit(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "It reaches 77.4% mIoU [1]. It runs at 102 FPS [1][2].",
            ["It reaches 77.4% mIoU [1].", "It runs at 102 FPS [1][2]."],
        ),
        (
            "It reaches 77.4% mIoU. [1] It runs at 102 FPS. [1] [2] It is small.",
            ["It reaches 77.4% mIoU. [1]", "It runs at 102 FPS. [1] [2]", "It is small."],
        ),
        (
            "It is evaluated on MNLI, QQP, etc. [2] Neither reports latency [unsupported].",
            ["It is evaluated on MNLI, QQP, etc. [2]", "Neither reports latency [unsupported]."],
        ),
        (
            "It halves memory [partly supported]. 8-bit training works [1, 2].",
            ["It halves memory [partly supported].", "8-bit training works [1, 2]."],
        ),
    ],
)
def test_citation_markers_stay_with_their_sentence(text, expected):
    assert sentences(text) == expected


def test_claim_units_give_the_text_back_and_keep_list_items_whole():
    text = "  From the abstracts:\n- **A**: It works, e.g. on CIFAR. It is fast [1]\n\nIt is 3x faster [2]. xLSTM is not [unsupported].  \n"
    units = claim_units(text)
    assert "".join(unit for unit, _ in units) == text
    claims = [unit for unit, is_claim in units if is_claim]
    assert claims == [
        "From the abstracts:",
        "- **A**: It works, e.g. on CIFAR. It is fast [1]",
        "It is 3x faster [2].",
        "xLSTM is not [unsupported].",
    ]


def test_split_sentences_keeps_those_worth_quoting():
    text = "We propose a model for segmenting tumours.  Code: see below. It reaches 0.87 Dice on BraTS."
    assert split_sentences(text) == [
        "We propose a model for segmenting tumours.",
        "It reaches 0.87 Dice on BraTS.",
    ]
    assert split_sentences("") == [] and sentence_spans("   ") == []
