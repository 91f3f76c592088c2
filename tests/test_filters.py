"""Filters by date, category and source, on a small dated and categorised corpus.

The corpus is ingested for real (real embedding model, real embedded Chroma, real BM25)
from an arXiv-style JSON Lines file, a CSV with year and categories columns, a JSON array
(categories as a list, a ``published`` date) and a listing page.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date

import pytest
from llama_index.core.schema import QueryBundle

from assistant.core.schema import Paper
from assistant.filters import FilterError, SearchFilters, paper_period
from ingest.parsers import parse_paths
from tests.conftest import clean_env, make_settings, run_module

BNN_2021 = "Binary Neural Networks with Learned Scaling Factors"
KV_2024 = "Quantizing the Key-Value Cache of Large Language Models to Two Bits"
GNN_2022 = "Distilling Graph Neural Networks into Multilayer Perceptrons"
BWN_2019 = "Binary Weight Networks for Efficient Mobile Vision"
PROTEIN_2023 = "Diffusion Models for Protein Structure Generation"
SAE_2024 = "Sparse Autoencoders Explain Attention Layers of Transformers"
ROBOT_2020 = "Reinforcement Learning for Robotic Grasping of Unknown Objects"
SEGMENT_LISTED = "Dual-resolution Networks for Real-time Semantic Segmentation of Road Scenes"
WEATHER_UNDATED = "Graph Transformers for Medium-range Weather Forecasting"

ARXIV = [
    {
        "id": "2105.00001",
        "title": BNN_2021,
        "abstract": "Binary neural networks constrain weights and activations to plus or minus "
        "one, which makes inference cheap but hurts accuracy. We learn per-channel scaling "
        "factors for binary neural networks by backpropagation and close much of the gap to "
        "full precision networks on ImageNet classification.",
        "update_date": "2021-05-10",
        "categories": "cs.CV cs.LG",
    },
    {
        "id": "2402.00002",
        "title": KV_2024,
        "abstract": "The key-value cache of large language models grows with the context and "
        "dominates memory at long contexts. We quantize the key-value cache to two bits per "
        "value with per-channel keys and per-token values, keeping perplexity close to the "
        "sixteen-bit baseline while serving four times longer contexts.",
        "update_date": "2024-02-01",
        "categories": "cs.CL cs.LG",
    },
    {
        "id": "2211.00003",
        "title": GNN_2022,
        "abstract": "Graph neural networks are accurate on node classification but slow at "
        "inference because of neighbourhood fetching. We distill a trained graph neural "
        "network into a multilayer perceptron that reads only node features, matching the "
        "teacher's accuracy while running an order of magnitude faster.",
        "update_date": "2022-11-20",
        "categories": "cs.LG stat.ML",
    },
]
CSV_ROWS = [
    {
        "title": BWN_2019,
        "abstract": "Binary weight networks replace full precision weights with binary values "
        "and a single scaling factor, shrinking models thirty-two times. We design binary "
        "networks for mobile vision that keep accuracy on image classification and object "
        "detection while running on phones in real time.",
        "year": "2019",
        "categories": "cs.CV",
    },
    {
        "title": PROTEIN_2023,
        "abstract": "We train a denoising diffusion model over protein backbone coordinates "
        "and generate novel protein structures that fold as designed. Generated proteins "
        "are diverse and designable, and the model conditions on motifs to scaffold "
        "functional sites.",
        "year": "2023",
        "categories": "q-bio.BM; cs.LG",
    },
    {
        "title": SAE_2024,
        "abstract": "Sparse autoencoders decompose the activations of transformers into "
        "interpretable features. We train sparse autoencoders on the outputs of attention "
        "layers and find interpretable features for long-range context, short-range "
        "context and induction heads in several model families.",
        "year": "2024",
        "categories": "cs.LG",
    },
]
JSON_RECORDS = [
    {
        "title": ROBOT_2020,
        "abstract": "A robot arm learns to grasp objects it has never seen by reinforcement "
        "learning from camera images. Trained in simulation with domain randomisation, the "
        "grasping policy transfers to a real robot and picks up unknown household objects "
        "with a high success rate.",
        "published": "2020-07-01T00:00:00Z",
        "categories": ["cs.RO", "cs.AI"],
    }
]
LISTING = "\n".join(
    [
        "Mar 12, 2024",
        SEGMENT_LISTED,
        "Semantic segmentation of road scenes must be accurate and fast for autonomous "
        "driving. We propose dual-resolution networks with a high-resolution branch and a "
        "low-resolution branch that exchange features, reaching a strong accuracy and speed "
        "trade-off on Cityscapes.",
        "Mar 14",  # no year: the paper has no known date
        WEATHER_UNDATED,
        "Medium-range weather forecasting with graph transformers over a mesh of the globe "
        "predicts temperature, wind and pressure ten days ahead more accurately than "
        "numerical baselines.",
    ]
)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("dated-corpus")
    (folder / "arxiv.jsonl").write_text(
        "\n".join(json.dumps(record) for record in ARXIV) + "\n", encoding="utf-8"
    )
    with (folder / "lab.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["title", "abstract", "year", "categories"])
        writer.writeheader()
        writer.writerows(CSV_ROWS)
    (folder / "robots.json").write_text(json.dumps(JSON_RECORDS), encoding="utf-8")
    (folder / "listing.txt").write_text(LISTING, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory, corpus_dir, embedder):
    """(settings, engine) over the dated corpus in a fresh embedded Chroma."""
    from assistant.engine import Assistant
    from ingest.pipeline import ingest

    settings = make_settings(tmp_path_factory.mktemp("dated-store"))
    ingest([corpus_dir], settings, progress=False, embedder=embedder)
    return settings, Assistant.from_settings(settings, embedder=embedder)


def ids_of(engine, *titles: str) -> frozenset[str]:
    return frozenset(engine.catalog.by_title(title).paper_id for title in titles)


def titles_of(engine, hits) -> set[str]:
    return {engine.catalog.papers[hit.node.metadata["paper_id"]].title for hit in hits}


# --- ingest: what the inputs carry is stored ----------------------------------------------


def test_ingest_keeps_dates_categories_and_sources(corpus_dir, dated):
    papers = {paper.title: paper for paper in parse_paths([corpus_dir]).papers}
    assert len(papers) == 9
    bnn = papers[BNN_2021]
    assert (bnn.update_date, bnn.categories, bnn.sources) == (
        "2021-05-10",
        "cs.CV cs.LG",
        ["arxiv.jsonl"],
    )
    assert (papers[PROTEIN_2023].year, papers[PROTEIN_2023].categories) == (
        "2023",
        "q-bio.BM cs.LG",
    )
    assert papers[BWN_2019].sources == ["lab.csv"]
    robot = papers[ROBOT_2020]
    assert (robot.year, robot.categories) == ("2020", "cs.RO cs.AI")  # year from "published"
    assert papers[SEGMENT_LISTED].listing_date == "Mar 12, 2024"
    assert papers[WEATHER_UNDATED].listing_date == "Mar 14"
    # …and read back from the store as written (flat scalar metadata)
    _, engine = dated
    stored = engine.catalog.by_title(PROTEIN_2023)
    assert (stored.year, stored.categories, stored.sources) == (
        "2023",
        "q-bio.BM cs.LG",
        ["lab.csv"],
    )
    assert engine.catalog.categories() == [
        "cs.AI",
        "cs.CL",
        "cs.CV",
        "cs.LG",
        "cs.RO",
        "q-bio.BM",
        "stat.ML",
    ]
    assert engine.catalog.sources() == ["arxiv.jsonl", "lab.csv", "listing.txt", "robots.json"]


# --- the filters model ------------------------------------------------------------------


def test_from_mapping_accepts_singular_plural_text_and_lists():
    filters = SearchFilters.from_mapping(
        {
            "since": 2021,
            "until": "2023-06",
            "category": "cs.LG",
            "categories": ["stat", "cs.LG"],
            "source": "arxiv.jsonl",
        }
    )
    assert filters.since == "2021" and filters.until == "2023-06"
    assert filters.categories == ("cs.LG", "stat") and filters.sources == ("arxiv.jsonl",)
    assert filters.window == (date(2021, 1, 1), date(2023, 6, 30))
    assert (
        filters.describe()
        == "since 2021, until 2023-06, category cs.LG or stat, source arxiv.jsonl"
    )
    assert SearchFilters.coerce({"since": "", "category": []}) is None
    assert SearchFilters.from_mapping(None).is_empty


@pytest.mark.parametrize(
    ("mapping", "field", "says"),
    [
        ({"since": "2023-13"}, "since", "not a real date"),
        ({"until": "last year"}, "until", "YYYY, YYYY-MM or YYYY-MM-DD"),
        ({"since": "2024", "until": "2023"}, "since", "after until 2023"),
        ({"year": "2023"}, "year", "unknown filter"),
        ({"category": 3}, "category", "text or a list of texts"),
        ({"sources": ["a.csv", None]}, "sources", "text or a list of texts"),
        (["since"], "filters", "must be an object"),
    ],
)
def test_bad_filters_name_their_field(mapping, field, says):
    with pytest.raises(FilterError, match=says) as caught:
        SearchFilters.from_mapping(mapping)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"filter {field}: ") and "\n" not in str(caught.value)


def test_date_rule_periods_and_matching():
    def paper(**fields):
        return Paper(title="t", abstract="a", paper_id="p", sources=["x/lab.csv"], **fields)

    assert paper_period(paper(update_date="2023-03-12", year="2020")) == (
        date(2023, 3, 12),
        date(2023, 3, 12),
    )
    assert paper_period(paper(year="2023")) == (date(2023, 1, 1), date(2023, 12, 31))
    assert paper_period(paper(listing_date="Mar 12, 2024")) == (date(2024, 3, 12),) * 2
    assert paper_period(paper(listing_date="Mar 12")) is None
    end_of_2023 = paper(update_date="2023-12-31")
    assert SearchFilters(until="2023").matches(end_of_2023)
    assert not SearchFilters(since="2024").matches(end_of_2023)
    assert SearchFilters(since="2023-12-31", until="2023-12-31").matches(end_of_2023)
    assert SearchFilters(since="2023-06").matches(paper(year="2023"))  # the year overlaps
    assert not SearchFilters(since="2000").matches(paper(listing_date="Mar 12"))  # no date
    assert SearchFilters().matches(paper())
    lg = paper(categories="cs.LG stat.ML")
    assert all(SearchFilters(categories=(c,)).matches(lg) for c in ("cs.lg", "cs", "STAT"))
    assert not SearchFilters(categories=("cs.L",)).matches(lg)
    assert not SearchFilters(categories=("cs.CV",)).matches(lg)
    assert SearchFilters(sources=("LAB.csv",)).matches(lg)  # file name, any case
    assert SearchFilters(sources=("data/lab.csv",)).matches(lg)
    assert not SearchFilters(sources=("lab.json",)).matches(lg)


# --- each leg alone ----------------------------------------------------------------------


def test_dense_leg_alone_returns_only_allowed_papers(dated):
    _, engine = dated
    retriever = engine.retriever
    bundle = QueryBundle("binary neural networks with scaling factors")
    assert BNN_2021 in titles_of(engine, retriever.dense_retrieve(bundle)[:2])
    far = ids_of(engine, ROBOT_2020, WEATHER_UNDATED)  # small, and far from the query
    hits = retriever.dense_retrieve(bundle, far)
    assert hits and titles_of(engine, hits) == {ROBOT_2020, WEATHER_UNDATED}
    assert retriever.dense_retrieve(bundle, frozenset()) == []


def test_lexical_leg_alone_ranks_inside_the_allowed_papers(dated):
    _, engine = dated
    lexical = engine.retriever.lexical
    bundle = QueryBundle("binary neural networks scaling")
    assert titles_of(engine, lexical.retrieve(bundle, 1)) == {BNN_2021}
    # top 1 among the allowed papers: filtering the overall top 1 afterwards would give none
    allowed = ids_of(engine, BWN_2019, ROBOT_2020)
    assert titles_of(engine, lexical.retrieve(bundle, 1, allowed)) == {BWN_2019}
    hits = lexical.retrieve(bundle, 50, allowed)
    assert titles_of(engine, hits) == {BWN_2019}  # the robot paper shares no query term
    assert lexical.retrieve(bundle, 5, frozenset()) == []


# --- the engine ----------------------------------------------------------------------------


def test_search_returns_the_best_allowed_paper(dated):
    _, engine = dated
    query = "binary neural networks"
    assert engine.search(query, k=1)[0].title == BNN_2021
    assert engine.search(query, k=1, filters={"until": "2020"})[0].title == BWN_2019
    hits = engine.search(query, k=9, filters=SearchFilters(categories=("cs.LG",)))
    assert hits[0].title == BNN_2021
    assert BWN_2019 not in {hit.title for hit in hits}  # cs.CV only
    by_source = engine.search(query, k=9, filters={"source": "lab.csv"})
    assert {hit.title for hit in by_source} <= {BWN_2019, PROTEIN_2023, SAE_2024}
    dated_2024 = engine.search("networks", k=9, filters={"since": "2024"})
    assert {hit.title for hit in dated_2024} <= {KV_2024, SAE_2024, SEGMENT_LISTED}
    assert WEATHER_UNDATED not in {
        h.title for h in engine.search("weather", filters={"until": "2030"})
    }
    assert engine.search(query, filters={"since": "2030"}) == []
    with pytest.raises(FilterError, match="filter until"):
        engine.search(query, filters={"until": "soon"})


def test_ask_answers_from_allowed_papers_only(dated):
    _, engine = dated
    question = "Which binary networks keep accuracy on image classification?"
    assert engine.ask(question).citations[0].title == BWN_2019  # 2019: before "since"
    answer = engine.ask(question, filters={"since": "2021"})
    assert answer.answered and answer.citations
    assert answer.citations[0].title == BNN_2021
    assert BWN_2019 not in {c.title for c in answer.citations} | {h.title for h in answer.related}
    assert answer.to_dict()["filters"] == {
        "since": "2021",
        "until": None,
        "categories": [],
        "sources": [],
    }
    assert engine.ask(question).to_dict()["filters"] is None


def test_filters_matching_no_paper_are_declined_plainly(dated):
    _, engine = dated
    answer = engine.ask("Which papers study binary neural networks?", filters={"since": "2030"})
    assert not answer.answered and answer.citations == [] and answer.related == []
    assert answer.text.startswith("No indexed paper matches the filters (since 2030)")
    streamed = list(engine.stream("binary networks", filters={"category": "math.AG"}))
    assert "category math.AG" in streamed[0] and not streamed[-1].answered


def test_follow_up_search_uses_the_filters(dated):
    _, engine = dated
    first = engine.ask("Which paper distills graph neural networks into MLPs?")
    assert first.citations[0].title == GNN_2022
    history = [("Which paper distills graph neural networks into MLPs?", first.markdown)]
    follow = engine.chat("How much faster is it?", history)
    assert GNN_2022 in follow.query
    # the conversation's paper is filtered out: nothing to follow up on
    excluded = engine.chat("How much faster is it?", history, filters={"since": "2024"})
    assert GNN_2022 not in excluded.query
    assert GNN_2022 not in {c.title for c in excluded.citations}


# --- the CLI -------------------------------------------------------------------------------


def test_cli_filter_flags(dated):
    settings, _ = dated
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    bad = run_module("assistant", "search", "binary", "--since", "2024-02-30", env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: filter since: '2024-02-30' is not a real date; use YYYY, YYYY-MM or YYYY-MM-DD"
    ]
    result = run_module(
        "assistant",
        "search",
        "binary neural networks",
        "-k",
        "9",
        "--json",
        "--until",
        "2021",
        "--category",
        "cs.CV",
        "--category",
        "cs.RO",
        "--source",
        "lab.csv",
        "--source",
        "robots.json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    titles = [hit["title"] for hit in json.loads(result.stdout)]
    assert titles[0] == BWN_2019 and set(titles) <= {BWN_2019, ROBOT_2020}


# --- the web page's filter inputs -----------------------------------------------------------


def test_web_search_and_chat_take_the_filter_inputs(dated):
    from assistant.web.holder import EngineHolder
    from assistant.web.ui import build_ui

    settings, engine = dated
    holder = EngineHolder(settings.with_overrides(refresh_seconds=0), lambda report: engine)
    holder.start(background=False)
    events = build_ui(holder).fns.values()
    by_name = {event.api_name: event for event in events if event.api_visibility == "public"}
    assert sorted(by_name) == ["ask", "chat", "search"]
    page = next(e for e in events if getattr(e.fn, "__name__", "") == "search_page")
    search = page.fn

    def respond(*inputs):  # the chat endpoint as text (ChatInterface wraps it as async)
        async def replies():
            return [str(reply) async for reply in by_name["chat"].fn(*inputs, [])]

        return asyncio.run(replies())

    assert [type(c).__name__ for c in page.inputs][2:] == [
        "Textbox",
        "Textbox",
        "Dropdown",
        "Dropdown",
    ]
    hits = by_name["search"].fn("binary neural networks", 3, {"until": "2020"})
    assert BWN_2019 in [hit["title"] for hit in hits] and BNN_2021 not in str(hits)
    shown = search("binary neural networks", 3, "", "2020", [], [])
    assert BWN_2019 in shown and BNN_2021 not in shown
    assert search("binary", 3, "2023-13", "", [], []) == (
        "Sorry, filter since: '2023-13' is not a real date; use YYYY, YYYY-MM or YYYY-MM-DD."
    )
    question = "Which binary networks keep accuracy on image classification?"
    reply = list(respond(question, [], 5, 0.0, "2021", "", ["cs"], []))[-1]
    assert BNN_2021 in reply and BWN_2019 not in reply
    bad = list(respond(question, [], 5, 0.0, "", "", [], ["x" * 300]))
    assert f"Sorry, filter sources: '{'x' * 40}'… is not a source name." in bad[-1]
    none = list(respond(question, [], 5, 0.0, "2030", "", [], []))[-1]
    assert "No indexed paper matches the filters (since 2030)" in none
    # the dropdowns' choices come from the corpus, through events that are not API endpoints
    choosers = [e for e in events if getattr(e.fn, "__name__", "") == "filter_choices"]
    assert choosers and all(event.api_visibility == "private" for event in choosers)
    categories, sources = choosers[0].fn()
    assert "cs.LG" in categories["choices"] and "lab.csv" in sources["choices"]
