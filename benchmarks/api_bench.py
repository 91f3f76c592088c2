"""Latency of the running app's API, one client at a time: /search and /ask through
gradio_client, and the OpenAI-compatible /v1/chat/completions through the official openai
client (whole, and streamed: time to the first content chunk and to the end).

    python benchmarks/api_bench.py                      # starts the app itself (ingests first)
    python benchmarks/api_bench.py --url http://127.0.0.1:7860/ -n 40

Each endpoint asks its own n eval questions (no cache warmed by another endpoint helps it);
traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import time

from common import app_url, eval_questions, summary_ms


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def measure(url: str, questions: list[str], n: int) -> None:
    """Each endpoint gets its own n questions: none is helped by a cache another warmed."""
    from gradio_client import Client
    from openai import OpenAI

    client = Client(url, verbose=False)
    openai = OpenAI(base_url=url + "v1", api_key="none", max_retries=0)
    batches = [questions[i * n : (i + 1) * n] for i in range(4)]
    search = [timed(lambda q=q: client.predict(q, 10, api_name="/search")) for q in batches[0]]
    ask = [timed(lambda q=q: client.predict(q, api_name="/ask")) for q in batches[1]]

    def complete(question: str) -> None:
        openai.chat.completions.create(
            model="paper-assistant", messages=[{"role": "user", "content": question}]
        )

    whole = [timed(lambda q=q: complete(q)) for q in batches[2]]
    first, total = [], []
    for question in batches[3]:
        began = time.perf_counter()
        stream = openai.chat.completions.create(
            model="paper-assistant",
            messages=[{"role": "user", "content": question}],
            stream=True,
        )
        seen = False
        for chunk in stream:
            if not seen and chunk.choices and chunk.choices[0].delta.content:
                first.append((time.perf_counter() - began) * 1000)
                seen = True
        total.append((time.perf_counter() - began) * 1000)
    print(f"/search (k=10)           {summary_ms(search)}")
    print(f"/ask                     {summary_ms(ask)}")
    print(f"/v1 chat, whole          {summary_ms(whole)}")
    print(f"/v1 chat, first chunk    {summary_ms(first)}")
    print(f"/v1 chat, streamed to end {summary_ms(total)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running app (no login); default: start one")
    parser.add_argument("-n", type=int, default=40, help="questions per endpoint")
    args = parser.parse_args()
    questions = eval_questions()
    if len(questions) < 4 * args.n:
        parser.error(f"-n is at most {len(questions) // 4} (four endpoints, distinct questions)")
    with app_url(args.url) as url:
        measure(url, questions, args.n)


if __name__ == "__main__":
    main()
