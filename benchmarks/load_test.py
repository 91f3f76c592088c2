"""Load test: N concurrent chat sessions against a running app, through gradio_client.

    python benchmarks/load_test.py                   # starts the app itself on a free port
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ --sessions 1 8 32

Each session asks a bounded number of eval questions in turn; the script prints throughput,
latency p50/p95 and errors for each N, and stops by itself. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import threading
import time

from common import app_url, eval_questions, percentile


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running app; default: start one")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--questions-per-session", type=int, default=4)
    args = parser.parse_args()
    questions = eval_questions()
    with app_url(args.url) as url:
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
