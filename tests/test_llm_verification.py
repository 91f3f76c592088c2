"""The LLM verification pass over real HTTP: a scripted server answers the engine's answering
call, then its one verification call (``assistant/llm_verifier.py``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from assistant.answer import Answer
from assistant.core.settings import Settings
from assistant.engine import Assistant
from assistant.llm_verifier import found_span, parse_verdicts
from assistant.prompts import load_prompt, render
from assistant.web.render import format_answer
from devtools.fake_openai import Reply

QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"
CITYSCAPES = "DDRNet-23-slim yields 77.4% mIoU at 102 FPS on Cityscapes [1]."
CITYSCAPES_SPAN = "DDRNet-23-slim yields 77.4% mIoU at 102 FPS on Cityscapes test set"
# A claim the detectors miss (both figures are in the passage, for the other data set)…
CAMVID_WRONG = "DDRNet-23-slim reaches 77.4% mIoU at 102 FPS on the CamVid test set [1]."
CAMVID_SPAN = "74.7% mIoU at 230 FPS on CamVid test set"
# …and one they catch: the two data sets' speeds exchanged.
SWAPPED = (
    "DDRNet-23-slim yields 77.4% mIoU at 230 FPS on Cityscapes and 74.7% mIoU at 102 FPS "
    "on CamVid [1]."
)
UNVERIFIED = load_prompt("unverified_mark")


def verdicts(*entries: tuple[int, str, str]) -> str:
    return json.dumps({"verdicts": [{"claim": c, "verdict": v, "span": s} for c, v, s in entries]})


@pytest.fixture()
def scripted(fake_llm):
    """Script the server by role: ``draft`` answers the answering call (streamed),
    ``check`` the verification call (told apart by its system prompt). Yields a function
    that sets both and returns the requests list; the responder is removed afterwards."""
    checker = load_prompt("verify_system")

    def script(draft: str, check: Reply | Callable[[dict], Reply]) -> list[dict]:
        fake_llm.script()  # no queued replies, requests cleared

        def respond(payload: dict) -> Reply:
            if payload["messages"][0]["content"] == checker:
                return check(payload) if callable(check) else check
            return Reply(draft)

        fake_llm.responder = respond
        return fake_llm.requests

    yield script
    fake_llm.responder = None


@pytest.fixture()
def engine(assistant, fake_llm):
    def make(**overrides) -> Assistant:
        overrides.setdefault("llm_timeout", 8.0)
        return assistant.with_settings(
            llm="openai-compatible",
            llm_base_url=fake_llm.base_url,
            llm_model="scripted-model",
            **overrides,
        )

    return make


def checks_sent(requests: list[dict]) -> list[dict]:
    checker = load_prompt("verify_system")
    return [r for r in requests if r["messages"][0]["content"] == checker]


def test_the_llm_confirms_one_claim_and_catches_one_the_detectors_missed(engine, scripted):
    requests = scripted(
        f"{CITYSCAPES} {CAMVID_WRONG}",
        Reply(
            verdicts((1, "entailed", CITYSCAPES_SPAN), (2, "contradicted", CAMVID_SPAN)),
        ),
    )
    answer = engine().ask(QUESTION)
    assert answer.notice is None and answer.backend == "openai-compatible"
    right, wrong = answer.claims
    assert right.verdict == "supported" and right.citations == [1]
    assert right.span == CITYSCAPES_SPAN and right.reason is None
    assert wrong.verdict == "unsupported" and wrong.citations == []
    assert wrong.span == CAMVID_SPAN
    assert wrong.reason == load_prompt("reason_llm_contradicted")
    assert answer.text == (
        f"{CITYSCAPES} DDRNet-23-slim reaches 77.4% mIoU at 102 FPS on the CamVid test set "
        f"{load_prompt('unsupported_mark')}."
    )
    assert answer.llm_check is not None and answer.llm_check.to_dict() == {
        "status": "done",
        "claims": 2,
        "problem": None,
    }
    # one batched call: both claims, numbered, with the passage they cite
    (check,) = checks_sent(requests)
    assert check["stream"] is False and check["temperature"] == 0.0
    prompt = check["messages"][1]["content"]
    assert render("verify_claim", id=1, cited="[1]", claim=right.text) in prompt
    assert render("verify_claim", id=2, cited="[1]", claim=wrong.text) in prompt
    assert "74.7% mIoU at 230 FPS on CamVid test set" in prompt


def test_the_detectors_veto_what_the_llm_calls_entailed(engine, scripted):
    """The swapped claim is never sent; the LLM calling 'claim 2' entailed changes nothing
    (no such claim was sent) and the detectors' verdict, reason and removal stand."""
    requests = scripted(
        f"{CITYSCAPES} {SWAPPED}",
        Reply(
            verdicts(
                (1, "entailed", CITYSCAPES_SPAN),
                (2, "entailed", "77.4% mIoU at 102 FPS on Cityscapes test set"),
            )
        ),
    )
    answer = engine().ask(QUESTION)
    right, swapped = answer.claims
    assert right.verdict == "supported" and right.citations == [1]
    assert swapped.verdict == "unsupported" and swapped.citations == []
    assert swapped.reason == render("reason_figure_swapped", figure="230")
    assert answer.text.endswith(f"on CamVid {load_prompt('unsupported_mark')}.")
    (check,) = checks_sent(requests)
    prompt = check["messages"][1]["content"]
    assert "230 FPS on Cityscapes" not in prompt and "claims 1 to 1" in prompt
    assert answer.llm_check.status == "done" and answer.llm_check.claims == 1


def test_a_late_verification_leaves_the_claims_unverified_and_the_answer_prompt(engine, scripted):
    scripted(CITYSCAPES, Reply(verdicts((1, "entailed", CITYSCAPES_SPAN)), delay=10.0))
    fast = engine(verify_with_llm=False)
    began = time.monotonic()
    fast.ask(QUESTION)
    without = time.monotonic() - began
    began = time.monotonic()
    answer = engine(verify_timeout=1.0).ask(QUESTION)
    took = time.monotonic() - began
    assert took < without + 3.0, (took, without)  # the 1 s time box, not the 10 s reply
    (claim,) = answer.claims
    assert claim.verdict == "unverified" and claim.citations == [1]
    assert claim.reason == load_prompt("reason_llm_unavailable")
    assert answer.text == f"{CITYSCAPES[:-5]} [1] {UNVERIFIED}."
    assert answer.citations and answer.answered and answer.notice is None
    assert answer.llm_check.to_dict() == {"status": "failed", "claims": 1, "problem": "timeout"}
    # the page: a badge where the claim stands, the verdict and reason in the source's fold
    page = format_answer(answer, key="k")
    assert 'class="pa-unsupported pa-unverified"' in page and UNVERIFIED not in page
    assert '<span class="pa-verdict pa-unverified">unverified</span>' in page
    assert f"**unverified**: {claim.text}" in page and claim.reason in page


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply("Claim 1 is entailed by the passage."), "malformed"),
        (Reply('{"verdicts": [{"claim": 1, "verdict": "true"}]}'), "malformed"),
        (Reply('```json\n{"verdicts": [{"claim": 1, "verdict": "entailed",'), "malformed"),
        (Reply(status=500), "call_failed"),
    ],
)
def test_a_malformed_or_failed_verification_leaves_the_claims_unverified(
    engine, scripted, reply, problem
):
    scripted(CITYSCAPES, reply)
    answer = engine().ask(QUESTION)
    (claim,) = answer.claims
    assert claim.verdict == "unverified" and claim.citations == [1]
    assert UNVERIFIED in answer.text and answer.notice is None
    assert answer.llm_check.status == "failed" and answer.llm_check.problem == problem


def test_verdicts_it_cannot_show_leave_only_their_claim_unverified(engine, scripted):
    """Fenced JSON is read; a span its passage lacks, or no verdict for a claim, leaves
    that claim unverified."""
    fenced = (
        "```json\n"
        + verdicts(
            (1, "entailed", CITYSCAPES_SPAN),
            (2, "entailed", "DDRNet-23-slim yields 99.9% mIoU on every benchmark"),
            (7, "contradicted", ""),
        )
        + "\n```"
    )
    third = "It reaches 74.7% mIoU at 230 FPS on CamVid [1]."
    scripted(f"{CITYSCAPES} {CAMVID_WRONG} {third}", Reply(fenced))
    answer = engine().ask(QUESTION)
    first, second, last = answer.claims
    assert first.verdict == "supported"
    assert second.verdict == "unverified" and second.citations == [1]
    assert second.reason == load_prompt("reason_llm_span_absent")
    assert last.verdict == "unverified" and last.reason == load_prompt("reason_llm_no_verdict")
    assert answer.llm_check.status == "done"


def test_one_extra_call_per_answer_and_none_with_the_pass_off(
    assistant, engine, scripted, fake_llm, monkeypatch
):
    requests = scripted(CITYSCAPES, Reply(verdicts((1, "entailed", CITYSCAPES_SPAN))))
    on = engine()
    on.ask(QUESTION)
    assert len(requests) == 2 and [r["stream"] for r in requests] == [True, False]
    requests = scripted(CITYSCAPES, Reply(verdicts((1, "entailed", CITYSCAPES_SPAN))))
    on.ask("Which network gets 77.4% mIoU on Cityscapes at 102 FPS?")
    assert len(requests) == 2
    # ASSISTANT_VERIFY_WITH_LLM=false: the answering call only
    monkeypatch.setenv("ASSISTANT_VERIFY_WITH_LLM", "false")
    settings = Settings(
        _env_file=None,
        chroma_path=assistant.settings.chroma_path,
        cache_dir=assistant.settings.cache_dir,
        llm_base_url=fake_llm.base_url,
        llm_model="scripted-model",
    )
    assert settings.llm == "openai-compatible" and settings.verify_with_llm is False
    off = Assistant(settings, assistant.embedder, assistant.retriever, tuning=assistant.tuning)
    requests = scripted(CITYSCAPES, Reply(verdicts((1, "entailed", CITYSCAPES_SPAN))))
    answer = off.ask(QUESTION)
    assert len(requests) == 1 and not checks_sent(requests)
    assert answer.claims[0].verdict == "supported"
    assert answer.llm_check.to_dict() == {"status": "off", "claims": 0, "problem": None}
    # the extractive backend never runs it; an answer the detectors reject costs no call
    assert assistant.ask(QUESTION).llm_check is None
    requests = scripted(
        "DDRNet-23-slim yields 91.3% mIoU at 250 FPS on Cityscapes [1].",
        Reply(verdicts((1, "entailed", CITYSCAPES_SPAN))),
    )
    answer = on.ask(QUESTION)
    assert answer.backend == "extractive" and "not supported" in answer.notice
    assert len(requests) == 1 and answer.llm_check is None


def test_the_answer_streams_before_the_verification_call(engine, scripted):
    shown: list[str] = []
    at_check: list[int] = []

    def check(payload: dict) -> Reply:
        at_check.append(len(shown))
        return Reply("not json")

    scripted(CITYSCAPES, check)
    final = None
    for part in engine().stream(QUESTION):
        if isinstance(part, Answer):
            final = part
        else:
            shown.append(part)
    assert final is not None and len(shown) > 3
    assert at_check == [len(shown)]  # every piece had reached the reader before it
    assert "".join(shown) == CITYSCAPES
    assert final.text == f"{CITYSCAPES[:-5]} [1] {UNVERIFIED}."


def test_v1_carries_the_unverified_verdict(engine, scripted):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.web.holder import EngineHolder
    from assistant.web.http_api import build_router

    llm_engine = engine(verify_timeout=1.0)
    scripted(CITYSCAPES, Reply(verdicts((1, "entailed", CITYSCAPES_SPAN)), delay=6.0))
    holder = EngineHolder(
        llm_engine.settings.with_overrides(refresh_seconds=0), lambda report: llm_engine
    )
    holder.start(background=False)
    app = FastAPI()
    app.include_router(build_router(holder))
    body = {"model": "paper-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    with TestClient(app) as client:
        reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200
    data = reply.json()
    assert UNVERIFIED in data["choices"][0]["message"]["content"]
    extras = data["paper_assistant"]
    assert [claim["verdict"] for claim in extras["claims"]] == ["unverified"]
    assert extras["claims"][0]["reason"] == load_prompt("reason_llm_unavailable")
    assert extras["llm_check"] == {"status": "failed", "claims": 1, "problem": "timeout"}
    assert "sk-" not in json.dumps(extras)


@pytest.mark.parametrize(
    ("reply", "claims"),
    [
        ('{"verdicts": [{"claim": 1, "verdict": "partial", "span": "x"}]}', [1]),
        ('```\n[{"claim": 2, "verdict": "not_mentioned"}]\n```', [2]),
        ('{"verdicts": [{"claim": 1, "verdict": "entailed", "extra": 1}]}', [1]),
    ],
)
def test_replies_are_read_with_fences_or_a_bare_list(reply, claims):
    assert [v.claim for v in parse_verdicts(reply)] == claims


def test_a_span_counts_only_when_its_passage_holds_it():
    passage = "DDRNet-23-slim yields 77.4% mIoU\nat 102 FPS on Cityscapes test set."
    assert found_span("“77.4% MIoU at 102 FPS.”", [passage]) == "77.4% mIoU at 102 FPS"
    assert found_span("78.4% mIoU", [passage]) is None
    assert found_span("  ", [passage]) is None
