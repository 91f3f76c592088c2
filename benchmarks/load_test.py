"""Load test against a running app (traffic to 127.0.0.1 only; stops by itself).

    python benchmarks/load_test.py                   # starts the app itself on a free port
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ --sessions 1 8 32
    python benchmarks/load_test.py --mixed           # 32 clients, 60 s, /v1 and /ask
    python benchmarks/load_test.py --mixed --clients 8 --seconds 15
    python benchmarks/load_test.py --throughput      # /v1 only: 1, 4, 16 clients, 30 s each
    python benchmarks/load_test.py --throughput --levels 16 --seconds 60

Sessions (the default): N concurrent chat sessions through gradio_client, each asking a
bounded number of eval questions on /chat in turn; prints throughput, latency p50/p95 and
errors for each N.

Mixed (``--mixed``): N clients for D seconds, half on the OpenAI-compatible
``/v1/chat/completions`` (httpx, whole answers), half on the Gradio API's ``/ask``
(gradio_client), each asking eval questions until the deadline. Both front doors share the
app's one concurrency limit; prints, per endpoint, answers, errors by kind, throughput,
p50/p95/max latency and the engine's own time (the rest is waiting), then the ratio of the
p95s and a PASS/FAIL line against the target: 0 errors, /ask p95 within 2x /v1's.

Throughput (``--throughput``): for each level N, N clients on ``/v1/chat/completions`` only
(whole answers; the app's extractive answerer unless it was started with an LLM) for D
seconds, as in ``--mixed``; prints answers/s, p50/p95/max latency, the engine's own p50 and
errors per level, then a PASS/FAIL line for the top level against the target of issue 21:
at least 20 answers/s with p95 within 1.5 s, 0 errors.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from common import app_url, eval_questions, percentile

MIXED_RATIO_TARGET = 2.0  # /ask p95 at most this many times /v1's
THROUGHPUT_TARGET = 20.0  # --throughput: answers per second at the top level, at least
P95_TARGET_MS = 1500.0  # --throughput: p95 at the top level, at most


def run_sessions(url: str, sessions: int, per_session: int, questions: list[str]) -> dict:
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(index: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as error:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"connect: {type(error).__name__}")
            return
        for turn in range(per_session):
            question = questions[(index * per_session + turn) % len(questions)]
            began = time.perf_counter()
            try:
                answer = client.predict(question, api_name="/chat")
                ok = isinstance(answer, str) and answer.strip() and "went wrong" not in answer
            except Exception as error:  # noqa: BLE001
                ok, answer = False, f"{type(error).__name__}: {error}"
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                if not ok:
                    errors.append(str(answer)[:200])

    began = time.perf_counter()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - began
    return {
        "sessions": sessions,
        "requests": len(latencies),
        "seconds": elapsed,
        "throughput": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) if latencies else float("nan"),
        "p95_ms": percentile(latencies, 95) if latencies else float("nan"),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


@dataclass
class Door:
    """What one endpoint's clients saw in a mixed run."""

    name: str
    latencies: list[float] = field(default_factory=list)  # ms, answered calls only
    engine: list[float] = field(default_factory=list)  # ms the engine took for them
    errors: Counter = field(default_factory=Counter)  # kind -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, began: float, engine_seconds: float | None, error: str | None) -> None:
        with self.lock:
            if error:
                self.errors[error[:120]] += 1
            else:
                self.latencies.append((time.perf_counter() - began) * 1000)
                if engine_seconds is not None:
                    self.engine.append(engine_seconds * 1000)

    def p95(self) -> float:
        return percentile(self.latencies, 95) if self.latencies else float("nan")

    def line(self, seconds: float) -> str:
        done = self.latencies
        errors = sum(self.errors.values())
        text = f"{self.name:5s} answers {len(done):4d}  {len(done) / seconds:5.2f} /s  "
        if done:
            text += (
                f"p50 {percentile(done, 50):6.0f}  p95 {self.p95():6.0f}  max {max(done):6.0f} ms"
            )
        if self.engine:
            text += f"  (engine p50 {percentile(self.engine, 50):4.0f} ms)"
        text += f"  errors {errors}"
        if errors:
            text += "  " + "; ".join(f"{n}x {kind}" for kind, n in self.errors.most_common(3))
        return text


def call_v1(http, question: str) -> tuple[float | None, str | None]:
    """One whole /v1 answer: (engine seconds, None) or (None, the error's kind)."""
    response = http.post(
        "v1/chat/completions",
        json={"model": "paper-assistant", "messages": [{"role": "user", "content": question}]},
    )
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}: {response.text[:80]}"
    body = response.json()
    if not body["choices"][0]["message"]["content"].strip():
        return None, "empty answer"
    return body["paper_assistant"]["seconds"], None


def call_ask(client, question: str) -> tuple[float | None, str | None]:
    answer = client.predict(question, api_name="/ask")
    if not isinstance(answer, dict) or not str(answer.get("text", "")).strip():
        return None, f"unexpected reply: {str(answer)[:80]}"
    return answer["seconds"], None


def run_mixed(
    url: str, clients: int, seconds: float, questions: list[str], names=("/v1", "/ask")
) -> dict:
    """``clients`` clients, taking turns through the doors ``names`` (/v1, /ask), each
    asking until ``seconds`` have passed (a call begun before the deadline is waited for);
    every client is connected before the clock starts."""
    import httpx
    from gradio_client import Client

    doors = {name: Door(name) for name in names}
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client_loop(index: int) -> None:
        name = names[index % len(names)]
        door = doors[name]
        try:
            if name == "/v1":
                session = httpx.Client(base_url=url, timeout=300)
                call = lambda q: call_v1(session, q)  # noqa: E731
            else:
                session = Client(url, verbose=False)
                call = lambda q: call_ask(session, q)  # noqa: E731
        except Exception as error:  # noqa: BLE001 - counted and reported
            door.record(0, None, f"connect: {type(error).__name__}")
            start.wait()
            return
        start.wait()
        turn = 0
        while time.perf_counter() < deadline[0]:
            question = questions[(index * 97 + turn) % len(questions)]
            turn += 1
            began = time.perf_counter()
            try:
                engine_seconds, error = call(question)
            except Exception as failure:  # noqa: BLE001
                engine_seconds, error = None, f"{type(failure).__name__}: {failure}"
            door.record(began, engine_seconds, error)

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + 10**9  # no call starts before every client is in
    start.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for thread in threads:
        thread.join(timeout=seconds + 600)
    elapsed = time.perf_counter() - began
    errors = sum(sum(door.errors.values()) for door in doors.values())
    if "/ask" not in doors:
        return {"doors": doors, "seconds": elapsed, "errors": errors}
    v1, ask = doors["/v1"].p95(), doors["/ask"].p95()
    ratio = ask / v1 if v1 > 0 else float("nan")
    return {"doors": doors, "seconds": elapsed, "ratio": ratio, "errors": errors}


def mixed(url: str, clients: int, seconds: float, questions: list[str]) -> bool:
    load = os.getloadavg()
    print(
        f"mixed: {clients} clients for {seconds:g} s; load average before "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    row = run_mixed(url, clients, seconds, questions)
    for door in row["doors"].values():
        print(door.line(row["seconds"]), flush=True)
    ratio, errors = row["ratio"], row["errors"]
    passed = errors == 0 and ratio <= MIXED_RATIO_TARGET
    load = os.getloadavg()
    print(
        f"ratio /ask p95 / /v1 p95: {ratio:.2f}; {row['seconds']:.1f} s in all; "
        f"load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"{'PASS' if passed else 'FAIL'}: {errors} errors (target 0), ratio {ratio:.2f} "
        f"(target <= {MIXED_RATIO_TARGET:g})",
        flush=True,
    )
    return passed


def throughput(url: str, levels: list[int], seconds: float, questions: list[str]) -> bool:
    """/v1 answers at each level of concurrency; PASS when the top level meets the target."""
    door, elapsed = Door("/v1"), seconds
    for clients in levels:
        load = os.getloadavg()[0]
        row = run_mixed(url, clients, seconds, questions, names=("/v1",))
        door, elapsed = row["doors"]["/v1"], row["seconds"]
        print(f"N={clients:3d} {door.line(row['seconds'])}  (load before {load:.2f})", flush=True)
    rate = len(door.latencies) / elapsed
    errors = sum(door.errors.values())
    passed = errors == 0 and rate >= THROUGHPUT_TARGET and door.p95() <= P95_TARGET_MS
    print(
        f"{'PASS' if passed else 'FAIL'} at N={levels[-1]}: {rate:.2f} answers/s (target >= "
        f"{THROUGHPUT_TARGET:g}), p95 {door.p95():.0f} ms (target <= {P95_TARGET_MS:g}), "
        f"{errors} errors",
        flush=True,
    )
    return passed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running app; default: start one")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--questions-per-session", type=int, default=4)
    parser.add_argument("--mixed", action="store_true", help="/v1 and /ask clients at once")
    parser.add_argument("--clients", type=int, default=32, help="--mixed: clients in all")
    parser.add_argument("--seconds", type=float, help="--mixed (60), --throughput (30): how long")
    parser.add_argument("--throughput", action="store_true", help="/v1 only, at --levels")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    questions = eval_questions()
    with app_url(args.url) as url:
        if args.throughput:
            passed = throughput(url, args.levels, args.seconds or 30, questions)
            raise SystemExit(0 if passed else 1)
        if args.mixed:
            passed = mixed(url, args.clients, args.seconds or 60, questions)
            raise SystemExit(0 if passed else 1)
        for n in args.sessions:
            row = run_sessions(url, n, args.questions_per_session, questions)
            print(
                f"N={row['sessions']:3d}  requests {row['requests']:4d}  {row['throughput']:5.2f} req/s  "
                f"p50 {row['p50_ms']:7.0f} ms  p95 {row['p95_ms']:7.0f} ms  errors {row['errors']}"
                + (f"  e.g. {row['first_errors']}" if row["errors"] else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
