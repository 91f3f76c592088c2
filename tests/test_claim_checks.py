"""The claim verifier's detectors, one kind of error each (no model, no store).

Each case is a faithful sentence and the same sentence with one error a fluent model makes;
the faithful one must stay supported and the wrong one must not."""

from __future__ import annotations

import pytest

from assistant.support import SupportChecker
from assistant.text.phrasing import declines
from assistant.text.sentences import claim_units
from assistant.vocabulary import Vocabulary

TITLE = "UNet++: A Nested U-Net Architecture for Medical Image Segmentation"
PASSAGE = (
    "UNet++ with deep supervision achieves an average IoU gain of 3.9 and 3.4 points over "
    "U-Net and wide U-Net, respectively. It is 4x - 9x smaller and uses 13x - 42x fewer FLOPs. "
    "We evaluate on four medical datasets, including CIFAR10 images of nuclei, and an "
    "Alibaba production dataset with over 2 billion samples. The method does not require "
    "manual annotation of the skip pathways. Training converges faster than U-Net and "
    "lowers memory use."
)
WORDS = (PASSAGE + " " + TITLE + " annotations require requires gain").lower()
VOCABULARY = Vocabulary({}, documents=100)
VOCABULARY = Vocabulary(dict.fromkeys(VOCABULARY.terms(WORDS), 3), documents=100)
CHECKER = SupportChecker(VOCABULARY)


def verdict(claim: str) -> str:
    return CHECKER.judge(claim, TITLE, PASSAGE).verdict


@pytest.mark.parametrize(
    "faithful, wrong, kind",
    [
        (  # a figure changed
            "Deep supervision gives UNet++ an average IoU gain of 3.9 points over U-Net [1].",
            "Deep supervision gives UNet++ an average IoU gain of 4.9 points over U-Net [1].",
            "figure_absent",
        ),
        (  # two figures swapped between what they measure
            "UNet++ is 4x-9x smaller and uses 13x-42x fewer FLOPs [1].",
            "UNet++ is 13x-42x smaller and uses 4x-9x fewer FLOPs [1].",
            "figure_swapped",
        ),
        (  # a magnitude changed
            "The production dataset has over 2 billion samples [1].",
            "The production dataset has over 2 million samples [1].",
            "figure_absent",
        ),
        (  # a number word changed
            "It is evaluated on four medical datasets [1].",
            "It is evaluated on three medical datasets [1].",
            "figure_absent",
        ),
        (  # a negation dropped
            "The method does not require manual annotation of the skip pathways [1].",
            "The method requires manual annotation of the skip pathways [1].",
            "negation_dropped",
        ),
        (  # a direction flipped
            "Training converges faster than U-Net and lowers memory use [1].",
            "Training converges slower than U-Net and lowers memory use [1].",
            "direction",
        ),
    ],
)
def test_one_error_turns_a_supported_claim_unsupported(faithful, wrong, kind):
    assert verdict(faithful) == "supported"
    judgement = CHECKER.judge(wrong, TITLE, PASSAGE)
    assert judgement.verdict == "unsupported" and judgement.reason.code == kind


def test_an_overclaim_is_partial_with_the_word_it_adds():
    assert verdict("Training converges faster than U-Net [1].") == "supported"
    judgement = CHECKER.judge("Training always converges faster than U-Net [1].", TITLE, PASSAGE)
    assert judgement.verdict == "partial" and judgement.reason.values == {"word": "always"}


def test_names_are_compared_without_hyphens_or_derivations():
    judgement = CHECKER.judge("It is evaluated on CIFAR-10 images of nuclei [1].", TITLE, PASSAGE)
    assert judgement.verdict != "unsupported"
    assert verdict("A UNet++-style network is 4x-9x smaller [1].") == "supported"
    judgement = CHECKER.judge("It is evaluated on ImageNet images of nuclei [1].", TITLE, PASSAGE)
    assert judgement.verdict == "unsupported" and judgement.reason.values == {"term": "ImageNet"}


def test_not_only_is_no_negation():
    passage = "The model not only matches U-Net but also lowers memory use."
    assert CHECKER.judge("It lowers memory use [1].", TITLE, passage).verdict == "supported"


def test_claims_split_after_abbreviations_and_before_digits():
    units = [u for u, is_claim in claim_units("It works [1]. 3 variants run [2].") if is_claim]
    assert units == ["It works [1].", "3 variants run [2]."]


@pytest.mark.parametrize(
    "text, declined",
    [
        ("The indexed papers do not answer this question.", True),
        ("The sources don't mention any hospital.", True),
        ("There is no information about that in the sources.", True),
        ("DDRNet reaches 77.4% mIoU [1].", False),
        ("It does not need labels [1].", False),
    ],
)
def test_a_decline_is_recognised(text, declined):
    assert declines(text) is declined


# --- paraphrased negations --------------------------------------------------------------
NEGATION_TITLE = "A Study of Compressed Caches"
NEGATION_PASSAGE = (
    "To reduce training costs, we minimize a layer-wise reconstruction loss instead of "
    "retraining the entire network. The design lowers memory demands, yet retains global "
    "attention capability. It outperforms the baseline despite removing input tokenization. "
    "Here we find that the searched cells fail to generalize to larger datasets. With "
    "8-bit activations, the binary models match or outperform the best existing 8-bit "
    "models. The authors "
    "call for improving the backbone instead of focusing on the mixer modules."
)
NEGATION_WORDS = (NEGATION_PASSAGE + " " + NEGATION_TITLE).lower()
NEGATION_CHECKER = SupportChecker(
    Vocabulary(dict.fromkeys(VOCABULARY.terms(NEGATION_WORDS), 3), documents=100)
)


def negation_judgement(claim: str):
    return NEGATION_CHECKER.judge(claim, NEGATION_TITLE, NEGATION_PASSAGE)


@pytest.mark.parametrize(
    "faithful, wrong, code",
    [
        (  # "instead of X" negates X: a claim that does X drops the negation
            "It minimizes a layer-wise reconstruction loss rather than retraining the entire "
            "network [1].",
            "It retrains the entire network after minimizing a layer-wise reconstruction loss [1].",
            "negation_dropped",
        ),
        (  # a privative ("removing") negates what follows it
            "It outperforms the baseline without input tokenization [1].",
            "It outperforms the baseline while still relying on input tokenization [1].",
            "negation_dropped",
        ),
        (  # "fail to V": the negation falls on the verb alone
            "The searched cells do not generalize to larger datasets [1].",
            "The searched cells generalize well, beating the larger datasets [1].",
            "negation_dropped",
        ),
        (  # the alternatives of "X instead of Y" exchanged, both sides negating
            "The authors ask for research on improving the backbone rather than on the "
            "mixer modules [1].",
            "The authors ask for research on the mixer modules rather than on improving "
            "the backbone [1].",
            "negation_added",
        ),
        (  # a two-word verb read as its one-word sense ("give up" is "lose")
            "The design lowers memory demands while keeping global attention capability [1].",
            "The design lowers memory demands at the price of giving up global attention "
            "capability [1].",
            "direction",
        ),
        (  # "falls short of" is "underperforms"
            "With 8-bit activations, the binary models outperform the best existing 8-bit "
            "models [1].",
            "With 8-bit activations, the binary models fall short of the best existing "
            "8-bit models [1].",
            "direction",
        ),
    ],
)
def test_paraphrased_negations(faithful, wrong, code):
    assert negation_judgement(faithful).verdict == "supported"
    judgement = negation_judgement(wrong)
    assert judgement.verdict == "unsupported" and judgement.reason.code == code


def test_skip_connections_are_no_negation():
    passage = "The re-designed skip pathways reduce the semantic gap between the feature maps."
    claim = "The redesigned pathways reduce the semantic gap between the feature maps [1]."
    assert NEGATION_CHECKER.judge(claim, NEGATION_TITLE, passage).verdict == "supported"


# --- a tie stated as a win; roles exchanged between two things ----------------------------
ROLES_TITLE = "A Benchmark of Retrieval Architectures"
ROLES_PASSAGE = (
    "Our attention mechanism connects the bottom layer of the decoder to the top layer of "
    "the encoder. Cross-encoders attend jointly to the pair, while bi-encoders encode each "
    "side separately. On translation benchmarks the system achieves "
    "results competitive with the state of the art."
)
ROLES_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(VOCABULARY.terms((ROLES_PASSAGE + " " + ROLES_TITLE).lower()), 3),
        documents=100,
    )
)


def roles_judgement(claim: str):
    return ROLES_CHECKER.judge(claim, ROLES_TITLE, ROLES_PASSAGE)


def test_a_tie_stated_as_a_win_is_partial():
    faithful = "On translation benchmarks the system is competitive with the state of the art [1]."
    assert roles_judgement(faithful).verdict == "supported"
    judgement = roles_judgement(
        "On translation benchmarks the system outperforms the state of the art [1]."
    )
    assert judgement.verdict == "partial" and judgement.reason.code == "direction"
    assert judgement.reason.values == {"claimed": "outperforms", "stated": "competitive"}


@pytest.mark.parametrize(
    "faithful, wrong",
    [
        (
            "Its attention connects the bottom layer of the decoder to the top layer of the "
            "encoder [1].",
            "Its attention connects the top layer of the decoder to the bottom layer of the "
            "encoder [1].",
        ),
        (
            "Cross-encoders attend jointly to the pair, while bi-encoders encode each side "
            "separately [1].",
            "Bi-encoders attend jointly to the pair, while cross-encoders encode each side "
            "separately [1].",
        ),
    ],
)
def test_roles_swapped_between_two_named_things(faithful, wrong):
    assert roles_judgement(faithful).verdict == "supported"
    judgement = roles_judgement(wrong)
    assert judgement.verdict == "unsupported" and judgement.reason.code == "roles_swapped"


def test_position_and_degree_opposites_count_only_before_the_same_word():
    passage = (
        "The module fuses multi-scale context on low-resolution feature maps. It runs at low "
        "latency with strong accuracy."
    )
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " high"), 3), 100)
    )
    judged = checker.judge(
        "The module fuses multi-scale context on high-resolution feature maps [1].", "M", passage
    )
    assert judged.verdict == "unsupported" and judged.reason.code == "direction"
    faithful = "It keeps accuracy high at low latency [1]."
    assert checker.judge(faithful, "M", passage).verdict != "unsupported"


# --- precision and reach of the polarity checks -----------------------------------------
POLARITY_TITLE = "Sparse Routing for Streaming Speech Recognition"
POLARITY_PASSAGE = (
    "The router does not use speaker labels, but the encoder is trained on accented speech. "
    "Routing increases throughput on long recordings. "
    "Training remains stable at large batch sizes. The decoder keeps the same vocabulary "
    "as the teacher."
)
POLARITY_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(
            VOCABULARY.terms((POLARITY_PASSAGE + " " + POLARITY_TITLE).lower() + " raises"), 3
        ),
        documents=100,
    )
)


def polarity_judgement(claim: str):
    return POLARITY_CHECKER.judge(claim, POLARITY_TITLE, POLARITY_PASSAGE)


def test_a_negation_does_not_reach_past_its_clause():
    # "not" negates "use speaker labels", not the encoder's training after "but"
    claim = "The encoder is trained on accented speech [1]."
    assert polarity_judgement(claim).verdict == "supported"


@pytest.mark.parametrize(
    "faithful, wrong",
    [
        (  # inflected antonyms compared by stem ("reduced" / "increases")
            "Routing raises throughput on long recordings [1].",
            "Routing reduces throughput on long recordings [1].",
        ),
        (  # a negative prefix: "unstable" is the opposite of "stable"
            "Training stays stable at large batch sizes [1].",
            "Training becomes unstable at large batch sizes [1].",
        ),
        (  # a listed antonym pair ("same" / "different")
            "The decoder keeps the same vocabulary as the teacher [1].",
            "The decoder uses a different vocabulary from the teacher [1].",
        ),
    ],
)
def test_opposites_said_of_the_same_thing(faithful, wrong):
    assert polarity_judgement(faithful).verdict == "supported"
    judgement = polarity_judgement(wrong)
    assert judgement.verdict == "unsupported" and judgement.reason.code == "direction"


def test_an_opposite_said_of_something_else_is_no_contradiction():
    # the passage "reduces" the error rate; the claim's "increases" is about throughput,
    # which the passage says in other words: no shared neighbour, no contradiction
    passage = "The router lifts throughput. Separately, it reduces the memory footprint."
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " increases"), 3), 100)
    )
    claim = "The router increases throughput [1]."
    assert checker.judge(claim, "R", passage).verdict != "unsupported"


def test_a_gap_said_closed_where_the_passage_gives_one_is_partial():
    passage = (
        "The distilled tagger reaches 88.1 F1 on the news test set, against 91.4 for its "
        "teacher. On clinical notes it matches the teacher within 0.2 points."
    )
    checker = SupportChecker(Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower()), 3), 100))
    for wrong in (
        "On the news test set the distilled tagger closes the gap to its teacher [1].",
        "The distilled tagger is on par with its teacher on the news test set, at 88.1 F1 [1].",
    ):
        judged = checker.judge(wrong, "T", passage)
        assert judged.verdict == "partial" and judged.reason.code == "stronger"
    faithful = "On clinical notes the distilled tagger matches its teacher within 0.2 points [1]."
    assert checker.judge(faithful, "T", passage).verdict == "supported"


def test_a_modifier_exchanged_for_one_the_paper_never_uses():
    passage = (
        "The tracker fuses radar returns with lidar sweeps and applies gating across "
        "temporal windows. It is evaluated on pedestrian tracking and vehicle detection."
    )
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " spectral lane"), 3), 100)
    )
    for wrong, claimed in (
        ("The tracker applies gating across the spectral windows [1].", "spectral windows"),
        ("It is evaluated on pedestrian tracking and lane detection [1].", "lane detection"),
    ):
        judged = checker.judge(wrong, "T", passage)
        assert judged.verdict == "unsupported" and judged.reason.code == "term_swapped"
        assert judged.reason.values["claimed"] == claimed
    for faithful in (
        "The tracker applies gating across temporal windows [1].",
        # a referential adjective ("previous") and a verb after "to" are no swapped kind
        "Unlike the previous windows, gating is applied across temporal windows [1].",
        "The tracker fuses radar returns with lidar sweeps to track pedestrians [1].",
    ):
        assert checker.judge(faithful, "T", passage).verdict != "unsupported", faithful


def test_figures_stated_as_one_list_are_paired_in_order():
    passage = (
        "The pruned encoder brings 12.5 times and 7.8 times savings in energy and memory "
        "traffic. Recall rises by 2.4 and 1.6 points on the forum and the news corpus, "
        "respectively."
    )
    checker = SupportChecker(Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower()), 3), 100))
    for faithful in (
        "It saves 12.5 times in energy and 7.8 times in memory traffic [1].",
        "Recall rises by 2.4 points on the forum corpus and 1.6 on the news corpus [1].",
    ):
        assert checker.judge(faithful, "P", passage).verdict == "supported", faithful
    for wrong in (
        "It saves 7.8 times in energy and 12.5 times in memory traffic [1].",
        "Recall rises by 1.6 points on the forum corpus and 2.4 on the news corpus [1].",
    ):
        judged = checker.judge(wrong, "P", passage)
        assert judged.verdict == "unsupported" and judged.reason.code == "figure_swapped", wrong


def test_only_before_a_quantity_minimises_and_claims_no_more():
    passage = (
        "The student model trails its teacher by 1.2 points while using a tenth of the memory."
    )
    checker = SupportChecker(Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower()), 3), 100))
    faithful = (
        "The student model trails its teacher by only 1.2 points, using a tenth of the memory [1]."
    )
    assert checker.judge(faithful, "S", passage).verdict == "supported"
    wrong = "Only the student model uses a tenth of the memory [1]."
    judged = checker.judge(wrong, "S", passage)
    assert judged.verdict == "partial" and judged.reason.values == {"word": "only"}


@pytest.mark.parametrize(
    "passage, faithful, wrong, code",
    [
        (  # the privative suffix: "calibration-free" is "without calibration"
            "The sensor pipeline is calibration-free and runs on a phone.",
            "The sensor pipeline runs on a phone without any calibration [1].",
            "The sensor pipeline needs calibration and runs on a phone [1].",
            "negation_dropped",
        ),
        (  # a privative verb: "ignores" negates what follows it
            "The parser ignores punctuation tokens when scoring spans.",
            "The parser scores spans without punctuation tokens [1].",
            "The parser relies on punctuation tokens when scoring spans [1].",
            "negation_dropped",
        ),
        (  # an antonym of degree said of the same result
            "Freezing the embeddings causes a negligible drop in tagging accuracy.",
            "Freezing the embeddings costs a negligible amount of tagging accuracy [1].",
            "Freezing the embeddings causes a significant drop in tagging accuracy [1].",
            "direction",
        ),
    ],
)
def test_privatives_and_degree_antonyms(passage, faithful, wrong, code):
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " needs relies"), 3), 100)
    )
    assert checker.judge(faithful, "P", passage).verdict == "supported"
    judged = checker.judge(wrong, "P", passage)
    assert judged.verdict == "unsupported" and judged.reason.code == code


def test_a_hedge_dropped_from_the_clause_carrying_the_claim_is_partial():
    passage = (
        "We show that the sampler can in principle scale to graphs with a billion edges. "
        "It halves the mixing time on road networks, and it may transfer to citation graphs."
    )
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " works practice"), 3), 100)
    )
    judged = checker.judge("The sampler scales to graphs with a billion edges [1].", "G", passage)
    assert judged.verdict == "partial" and judged.reason.code == "hedge_dropped"
    hedged = "The sampler can in principle scale to graphs with a billion edges [1]."
    assert checker.judge(hedged, "G", passage).verdict == "supported"
    # the hedge is in the other clause: the halved mixing time is stated plainly
    plain_result = "The sampler halves the mixing time on road networks [1]."
    assert checker.judge(plain_result, "G", passage).verdict == "supported"


def test_respectively_pairs_what_is_said_with_what_it_is_said_of():
    passage = (
        "The errors come mainly from label noise and domain shift respectively in the "
        "pre-training and fine-tuning stages."
    )
    checker = SupportChecker(Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower()), 3), 100))
    faithful = (
        "The errors come from label noise in the pre-training stage and domain shift in "
        "the fine-tuning stage [1]."
    )
    assert checker.judge(faithful, "E", passage).verdict == "supported"
    wrong = (
        "The errors come from label noise in the fine-tuning stage and domain shift in "
        "the pre-training stage [1]."
    )
    judged = checker.judge(wrong, "E", passage)
    assert judged.verdict == "unsupported" and judged.reason.code == "roles_swapped"


def test_degree_words_are_opposed_only_before_the_same_word():
    passage = "Pruning brings large memory savings at a slight cost in accuracy."
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " loss"), 3), 100)
    )
    faithful = "Pruning saves much memory at a small loss of accuracy [1]."
    assert checker.judge(faithful, "P", passage).verdict != "unsupported"
    judged = checker.judge("Pruning brings small memory savings [1].", "P", passage)
    assert judged.verdict == "unsupported" and judged.reason.code == "direction"


def test_a_modal_keeps_a_claim_hedged():
    passage = "Sharing the adapters may reduce forgetting across tasks."
    checker = SupportChecker(Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower()), 3), 100))
    assert (
        checker.judge(
            "Shared adapters can reduce forgetting across tasks [1].", "A", passage
        ).verdict
        == "supported"
    )
    judged = checker.judge(
        "Sharing the adapters reduces forgetting across tasks [1].", "A", passage
    )
    assert judged.verdict == "partial" and judged.reason.values == {"word": "may"}


# --- direction said in other words (issue 20) ---------------------------------------------
DIRECTION_TITLE = "A Study of Efficient Image Networks"
DIRECTION_PASSAGE = (
    "When controlled for parameters, the network requires lesser GPU memory. It expands the "
    "receptive field faster than convolutions do. The model outperforms relevant baselines "
    "on continual learning. The deeper design only gains a slight advantage from the prior. "
    "We enlarge a network and use its sub-networks to define a search space."
)
DIRECTION_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(VOCABULARY.terms((DIRECTION_PASSAGE + " " + DIRECTION_TITLE).lower()), 3),
        documents=100,
    )
)


def direction_judgement(claim: str):
    return DIRECTION_CHECKER.judge(claim, DIRECTION_TITLE, DIRECTION_PASSAGE)


@pytest.mark.parametrize(
    "faithful, wrong",
    [
        (  # "lesser" is the opposite of "more"
            "When controlled for parameters, the network needs less GPU memory [1].",
            "When controlled for parameters, the network needs more GPU memory [1].",
        ),
        (  # an adverb of speed against a comparative
            "It expands the receptive field faster than convolutions do [1].",
            "It expands the receptive field more slowly than convolutions do [1].",
        ),
        (  # "lags behind" is "trails", the opposite of "outperforms"
            "The model beats relevant baselines on continual learning [1].",
            "The model lags behind relevant baselines on continual learning [1].",
        ),
        (  # a degree word before the same noun: "slight" against "large"
            "The deeper design gains only a slight advantage from the prior [1].",
            "The deeper design gains a large advantage from the prior [1].",
        ),
        (  # an irregular participle ("shrunk") against its opposite
            "A network is enlarged and its sub-networks define a search space [1].",
            "A network is shrunk and its sub-networks define a search space [1].",
        ),
    ],
)
def test_direction_in_other_words(faithful, wrong):
    assert direction_judgement(faithful).verdict == "supported"
    judgement = direction_judgement(wrong)
    assert judgement.verdict != "supported" and judgement.reason.code == "direction"


def _judge_on(passage: str, claim: str):
    title = "A Study of Compact Networks"
    vocabulary = Vocabulary(
        dict.fromkeys(VOCABULARY.terms((passage + " " + title).lower()), 3), documents=100
    )
    return SupportChecker(vocabulary).judge(claim, title, passage)


@pytest.mark.parametrize(
    "passage, faithful, wrong",
    [
        (  # a double negation agrees with the plain statement
            "The framework compresses all components of the model.",
            "The framework leaves no component of the model uncompressed [1].",
            "The framework leaves the components of the model uncompressed [1].",
        ),
        (  # a word the passage rejects in one sentence and states in a closer one
            "DARTS reduces search cost by weight-sharing. Our method nests networks at the "
            "cell level instead of using weight-sharing.",
            "DARTS lowers search cost through weight-sharing [1].",
            "Our method uses weight-sharing rather than nesting networks at the cell level [1].",
        ),
        (  # the alternatives of "rather than" exchanged, a verb negated on both sides
            "We optimize existing handcrafted architectures rather than starting from scratch.",
            "Existing handcrafted architectures are optimized instead of starting from "
            "scratch [1].",
            "Architectures are built from scratch instead of starting from handcrafted ones [1].",
        ),
        (  # a negative prefix ("unlabeled") says what "without labels" says
            "The autoencoder is trained on the unlabeled dataset to obtain pseudo labels.",
            "Pseudo labels come from an autoencoder trained without labels [1].",
            None,
        ),
        (  # a negation reaches across "or": both items are negated
            "The approach does not increase any parameters or training steps.",
            "It adds no parameters and no training steps [1].",
            "The approach needs extra training steps [1].",
        ),
        (  # "eliminating the requirement for X" negates X
            "The method mitigates the deviation caused by quantization, eliminating the "
            "requirement for retraining.",
            "The method mitigates the deviation caused by quantization, so no retraining is "
            "needed [1].",
            "The method mitigates the deviation caused by quantization but still requires "
            "retraining [1].",
        ),
        (  # a comparative the passage uses too, but its opposite before the same noun
            "Large-kernel networks possess larger effective receptive fields than "
            "smaller-kernel networks.",
            "Large-kernel networks have larger effective receptive fields than small-kernel "
            "networks [1].",
            "Large-kernel networks have smaller effective receptive fields than small-kernel "
            "networks [1].",
        ),
    ],
)
def test_negation_paraphrases(passage, faithful, wrong):
    polarity = {"negation_added", "negation_dropped", "direction"}
    kept = _judge_on(passage, faithful)
    assert kept.verdict == "supported" or kept.reason.code not in polarity
    if wrong is not None:
        judgement = _judge_on(passage, wrong)
        assert judgement.verdict != "supported" and judgement.reason.code in polarity


def test_merely_is_said_as_only():
    passage = "Our approach does not add parameters, requiring the parallel data merely."
    assert _judge_on(passage, "Our approach requires only the parallel data [1].").verdict == (
        "supported"
    )


@pytest.mark.parametrize(
    "passage, faithful, wrong",
    [
        (  # "at the cost of X" is "sacrificing X", which "without sacrificing" denies
            "The method converges without sacrificing accuracy.",
            "The method converges while maintaining accuracy [1].",
            "The method converges at the cost of accuracy [1].",
        ),
        (  # "speeds up" is "accelerates", the opposite of "slows down"
            "Pruning speeds up inference on mobile devices.",
            "Pruning accelerates inference on mobile devices [1].",
            "Pruning slows down inference on mobile devices [1].",
        ),
        (  # "free of X" is "without X"
            "The approach is free of hyperparameter tuning.",
            "The approach needs no hyperparameter tuning [1].",
            "The approach requires hyperparameter tuning [1].",
        ),
        (  # "in contrast to X" is "unlike X"
            "Unlike prior methods, our model handles variable-length inputs.",
            "In contrast to prior methods, our model handles variable-length inputs [1].",
            "Like prior methods, our model handles variable-length inputs [1].",
        ),
        (  # a removal both texts speak of is their subject, not a dropped negation
            "Removing the positional encodings degrades accuracy sharply.",
            "Accuracy drops sharply when the positional encodings are removed [1].",
            None,
        ),
    ],
)
def test_negation_phrases(passage, faithful, wrong):
    test_negation_paraphrases(passage, faithful, wrong)


@pytest.mark.parametrize(
    "passage, faithful, wrong",
    [
        (  # a negation the passage says with an antonym ("poorly" for "not well")
            "The learned policy generalizes poorly to unseen environments.",
            "The learned policy does not generalize well to unseen environments [1].",
            "The learned policy generalizes well to unseen environments [1].",
        ),
        (  # a negated noun phrase restated as a negated predicate
            "We observe no improvement from adding more layers.",
            "Adding more layers does not help [1].",
            "Adding more layers yields a clear improvement [1].",
        ),
        (  # "inferior" is the opposite of "superior"
            "The compact model is inferior to the full model on long documents.",
            "The full model beats the compact model on long documents [1].",
            "The compact model is superior to the full model on long documents [1].",
        ),
        (  # "optional" is the opposite of "necessary"
            "Warm-up is optional for the proposed optimizer.",
            "The proposed optimizer does not need warm-up [1].",
            "Warm-up is necessary for the proposed optimizer [1].",
        ),
        (  # "coarse" and "fine" before the same word
            "The decoder uses fine-grained features from the encoder.",
            "The decoder draws on fine-grained encoder features [1].",
            "The decoder uses coarse-grained features from the encoder [1].",
        ),
        (  # "little" against "large" before the same word
            "Scaling the batch size has little effect on final accuracy.",
            "Final accuracy barely depends on the batch size [1].",
            "Scaling the batch size has a large effect on final accuracy [1].",
        ),
    ],
)
def test_negation_said_otherwise(passage, faithful, wrong):
    test_negation_paraphrases(passage, faithful, wrong)


@pytest.mark.parametrize(
    "passage, faithful, wrong",
    [
        (  # "X is not required" negates X, said before the negation
            "For new tasks, fine-tuning is not required.",
            "The model does not need fine-tuning for new tasks [1].",
            None,
        ),
        (  # "X are not needed" negates X: a claim that relies on X drops the negation
            "Labels are not needed during pretraining.",
            "Pretraining works without labels [1].",
            "Pretraining relies on labels [1].",
        ),
    ],
)
def test_negated_need_after_its_subject(passage, faithful, wrong):
    test_negation_paraphrases(passage, faithful, wrong)


# --- a comparison turned round ------------------------------------------------------------
COMPARISON_TITLE = "Sparse Retrieval and Adapter Tuning at Scale"
COMPARISON_PASSAGE = (
    "On the long-document benchmark, the sparse retriever outperforms the dense baseline by "
    "4 points. Quantized adapters reach 30% lower memory use and 2x higher throughput "
    "compared to full fine-tuning. Over five years, labelled corpora have grown faster than "
    "annotation budgets. The pruned tagger lags behind the full tagger on rare entities. "
    "The student decoder runs faster than the teacher decoder on phones."
)
COMPARISON_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(VOCABULARY.terms((COMPARISON_PASSAGE + " " + COMPARISON_TITLE).lower()), 3),
        documents=100,
    )
)


def comparison_judgement(claim: str):
    return COMPARISON_CHECKER.judge(claim, COMPARISON_TITLE, COMPARISON_PASSAGE)


@pytest.mark.parametrize(
    "claim",
    [
        "The sparse retriever beats the dense baseline on the long-document benchmark [1].",
        # the passive: the same comparison from the other side
        "The dense baseline is outperformed by the sparse retriever on the long-document "
        "benchmark [1].",
        "Quantized adapters reach 30% lower memory use than full fine-tuning [1].",
        "Quantized adapters reach 2x higher throughput than full fine-tuning [1].",
        "Labelled corpora have outpaced annotation budgets over five years [1].",
        # the sides exchanged and the comparative turned: the same comparison
        "Full fine-tuning has higher memory use than quantized adapters [1].",
        "The dense baseline trails the sparse retriever on the long-document benchmark [1].",
        "The full tagger outperforms the pruned tagger on rare entities [1].",
        "The sparse retriever improves over the dense baseline on the long-document benchmark [1].",
    ],
)
def test_a_comparison_said_from_either_side_is_kept(claim):
    assert comparison_judgement(claim).verdict == "supported"


@pytest.mark.parametrize(
    "claim",
    [
        # subject and object exchanged
        "The dense baseline outperforms the sparse retriever on the long-document benchmark [1].",
        # the passive turned round
        "The sparse retriever is outperformed by the dense baseline on the long-document "
        "benchmark [1].",
        # the sides of "lower … than" exchanged ("compared to" in the passage)
        "Full fine-tuning reaches 30% lower memory use than quantized adapters [1].",
        # "grew faster than" turned round
        "Over five years, annotation budgets have grown faster than labelled corpora [1].",
        # "improves over", "lags behind", "falls short of" compare as the verbs do
        "The dense baseline improves over the sparse retriever on the long-document benchmark [1].",
        "The full tagger lags behind the pruned tagger on rare entities [1].",
        "The full tagger falls short of the pruned tagger on rare entities [1].",
        # both sides crossed over, the verb on one side in both
        "The teacher decoder runs faster than the student decoder on phones [1].",
    ],
)
def test_a_comparison_turned_round_is_flagged(claim):
    judgement = comparison_judgement(claim)
    assert judgement.verdict == "unsupported"
    assert judgement.reason.code == "comparison_reversed"


# --- direction words of other shapes: nouns of change, keeping, quality, size, "lack" -----
SHAPES_TITLE = "Serving Compressed Models on Shared Clusters"
SHAPES_PASSAGE = (
    "The pruned model shows a 40% reduction in peak memory. The compiler eliminates "
    "redundant copies of the weights. Replacing the tokenizer with raw bytes leads to "
    "inferior translation quality. The distilled encoder carries richer syntactic features "
    "than its teacher. Sharding yields a lower drop in recall than replication, with a fewer "
    "number of servers. Existing schedulers lack a principled rule for choosing the batch "
    "size. Its latency is 3 ms less than that of the baseline with 0.2% higher accuracy."
)
SHAPES_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(VOCABULARY.terms((SHAPES_PASSAGE + " " + SHAPES_TITLE).lower()), 3),
        documents=100,
    )
)


def shapes_judgement(claim: str):
    return SHAPES_CHECKER.judge(claim, SHAPES_TITLE, SHAPES_PASSAGE)


@pytest.mark.parametrize(
    "faithful, wrong",
    [
        (  # a change said as a noun ("a reduction in") against its opposite verb
            "Pruning cuts peak memory by 40% [1].",
            "Pruning increases peak memory by 40% [1].",
        ),
        (  # keeping a part against eliminating it
            "The compiler eliminates redundant weight copies [1].",
            "The compiler retains redundant copies of the weights [1].",
        ),
        (  # "inferior" quality against "improves" it
            "Replacing the tokenizer with raw bytes degrades translation quality [1].",
            "Replacing the tokenizer with raw bytes improves translation quality [1].",
        ),
        (  # "richer" against "fewer"
            "The distilled encoder's syntactic features are richer than its teacher's [1].",
            "The distilled encoder carries fewer syntactic features than its teacher [1].",
        ),
        (  # a size said on the other scale's word ("lower drop" / "larger drop")
            "Compared with replication, sharding yields a lower drop in recall [1].",
            "Sharding yields a larger drop in recall than replication [1].",
        ),
        (  # a degree said after a verb of being is said of its subject
            "Its accuracy is 0.2% higher than the baseline's [1].",
            "Its accuracy is 0.2% lower than the baseline's [1].",
        ),
        (  # "fewer number of servers" is "fewer servers"
            "Sharding runs on fewer servers than replication [1].",
            "Sharding runs on more servers than replication [1].",
        ),
    ],
)
def test_direction_words_of_other_shapes(faithful, wrong):
    assert shapes_judgement(faithful).verdict == "supported"
    judgement = shapes_judgement(wrong)
    assert judgement.verdict == "unsupported" and judgement.reason.code == "direction"


@pytest.mark.parametrize(
    "claim",
    [
        # "lack" negates its clause as "do not have" does: a claim that lacks it too, in
        # other words, drops no negation
        "Existing schedulers lack a principled way to choose the batch size [1].",
        # "less than" before a figure says nothing against "more accurate"
        "Its latency is 3 ms lower than the baseline's while it is 0.2% more accurate [1].",
    ],
)
def test_negations_and_degrees_said_alike_are_kept(claim):
    assert shapes_judgement(claim).verdict == "supported"


# --- a negated modal; two opposites exchanged ---------------------------------------------
SWAP_TITLE = "Denoising Pipelines for Low-Light Video"
SWAP_PASSAGE = (
    "The restoration network maps noisy frames into clean ones before tracking. With "
    "shared weights, denoising and deblurring can be trained jointly. The encoder keeps "
    "coarse features in early layers and fine features in late layers. The tracker "
    "generalizes to unseen night scenes. Frame drops often occur under heavy load. "
    "With caching, GPU memory use goes down by half. Batching cuts the per-frame cost. "
    "Motion blur widens the accuracy gap to daytime scenes. Temporal dropout stabilizes "
    "tracking."
)
SWAP_CHECKER = SupportChecker(
    Vocabulary(
        dict.fromkeys(VOCABULARY.terms((SWAP_PASSAGE + " " + SWAP_TITLE).lower()), 3),
        documents=100,
    )
)


def swap_judgement(claim: str):
    return SWAP_CHECKER.judge(claim, SWAP_TITLE, SWAP_PASSAGE)


@pytest.mark.parametrize(
    "faithful, wrong, code",
    [
        (  # "cannot" denies the verb after it, as "unable to" does
            "With shared weights, denoising and deblurring are trained together [1].",
            "With shared weights, denoising and deblurring cannot be trained jointly [1].",
            "negation_added",
        ),
        (  # "struggles to" denies the verb after it, as "fails to" does
            "The tracker generalizes to unseen night scenes [1].",
            "The tracker struggles to generalize to unseen night scenes [1].",
            "negation_added",
        ),
        (  # "seldom" against "often"
            "Frame drops often happen under heavy load [1].",
            "Frame drops seldom occur under heavy load [1].",
            "direction",
        ),
        (  # an amount said to go up or down
            "With caching, GPU memory use falls by half [1].",
            "With caching, GPU memory use goes up by half [1].",
            "direction",
        ),
        (  # "cuts" against "raises"
            "Batching lowers the per-frame cost [1].",
            "Batching raises the per-frame cost [1].",
            "direction",
        ),
        (  # a degree word as a verb ("narrows") is opposed as verbs are, not only
            # before the same noun
            "Motion blur widens the accuracy gap to daytime scenes [1].",
            "Motion blur narrows the accuracy gap to daytime scenes [1].",
            "direction",
        ),
        (
            "Temporal dropout stabilizes the tracking [1].",
            "Temporal dropout destabilizes tracking [1].",
            "direction",
        ),
        (  # two opposites said of each other's noun ("clean frames into noisy frames")
            "Before tracking, the restoration network turns noisy frames into clean ones [1].",
            "Before tracking, the restoration network turns clean frames into noisy ones [1].",
            "direction",
        ),
    ],
)
def test_negated_modals_and_exchanged_opposites(faithful, wrong, code):
    assert swap_judgement(faithful).verdict == "supported"
    judgement = swap_judgement(wrong)
    assert judgement.verdict == "unsupported" and judgement.reason.code == code


def test_opposites_said_of_their_own_nouns_are_kept():
    claim = "The encoder keeps fine features in late layers and coarse features in early ones [1]."
    assert swap_judgement(claim).verdict == "supported"


def test_unlike_against_a_concessive_contrast_is_kept():
    passage = (
        "Although dense retrievers have been tuned extensively, sparse retrievers have "
        "received little tuning. Like dense retrievers, sparse retrievers index passages."
    )
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " retrieval"), 3), 100)
    )
    faithful = "Unlike dense retrievers, sparse retrievers have received little tuning [1]."
    wrong = "Unlike dense retrievers, sparse retrievers index passages [1]."
    assert checker.judge(faithful, "Retrieval", passage).verdict == "supported"
    assert checker.judge(wrong, "Retrieval", passage).verdict == "unsupported"


def test_no_effect_said_as_unchanged_and_a_disregard():
    passage = (
        "Early stopping has no effect on final accuracy. The encoder accounts for speaker identity."
    )
    checker = SupportChecker(
        Vocabulary(dict.fromkeys(VOCABULARY.terms(passage.lower() + " speech"), 3), 100)
    )
    # "leaves X unchanged" says "has no effect on X": no negation dropped
    kept = "Early stopping leaves final accuracy unchanged [1]."
    assert checker.judge(kept, "Speech", passage).verdict == "supported"
    # "disregards" negates what follows it, as "ignores" does
    wrong = checker.judge("The encoder disregards speaker identity [1].", "Speech", passage)
    assert wrong.verdict == "unsupported" and wrong.reason.code == "negation_added"
