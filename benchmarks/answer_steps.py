"""Where an extractive answer's time goes, step by step, on an existing store.

    python benchmarks/answer_steps.py STORE [--cache DIR] [--rounds 3] [--questions 100]
    python benchmarks/answer_steps.py data --cache data/cache/chroma   # the bundled index

``STORE`` holds ``chroma/`` (and ``cache/``, unless ``--cache`` names the cache folder), as
``scale_bench.py --keep`` leaves it. Each round asks the first ``--questions`` questions of
``eval/dev.jsonl`` with ``Assistant.ask`` (the extractive answerer: no LLM is configured) and
prints, for each pipeline step and for the index lookups the steps make (query embeddings,
hybrid searches, nearest papers, phrase lookups), the mean and p95 ms per answer and the
share of the answer's time. Process CPU per answer is printed too: with two cores and one
GIL, it bounds how many answers a second one app process can serve. The first round reads
cold pages; later rounds show the warm cost.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

from common import dev_questions, engine_on_store, percentile, store_arguments

from assistant.pipeline.state import TurnLookups
from assistant.pipeline.steps.base import Step

LOOKUPS = ("vector", "search", "nearest", "phrase_papers")


class StepClock:
    """Milliseconds spent in each step and lookup during the current answer."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def timed_step(self, step: Step) -> None:
        run = step.run
        clock = self

        def timed(state) -> Iterator:  # noqa: ANN001 - the step's own signature
            began = time.perf_counter()
            try:
                yield from run(state)
            finally:
                clock.current[f"step {step.name}"] += (time.perf_counter() - began) * 1000

        step.run = timed  # type: ignore[method-assign]

    def timed_lookup(self, name: str) -> None:
        original: Callable = getattr(TurnLookups, name)
        clock = self

        @functools.wraps(original)
        def timed(lookups: TurnLookups, *args, **kwargs):  # noqa: ANN202
            began = time.perf_counter()
            try:
                return original(lookups, *args, **kwargs)
            finally:
                clock.current[f"lookup {name}"] += (time.perf_counter() - began) * 1000

        setattr(TurnLookups, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    store_arguments(parser)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    engine = engine_on_store(args)
    clock = StepClock()
    for step in engine.steps:
        clock.timed_step(step)
    for name in LOOKUPS:
        clock.timed_lookup(name)
    questions = dev_questions(args.questions)
    for round_ in range(args.rounds):
        spent: dict[str, list[float]] = defaultdict(list)
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        for question in questions:
            clock.current = defaultdict(float)
            asked = time.perf_counter()
            engine.ask(question)
            spent["answer"].append((time.perf_counter() - asked) * 1000)
            for part, ms in clock.current.items():
                spent[part].append(ms)
        cpu = (time.process_time() - cpu_began) / len(questions) * 1000
        wall = (time.perf_counter() - wall_began) / len(questions) * 1000
        total = sum(spent["answer"])
        print(f"round {round_}: {wall:.1f} ms an answer (process CPU {cpu:.1f} ms)")
        for part, values in sorted(spent.items(), key=lambda item: -sum(item[1])):
            values += [0.0] * (len(questions) - len(values))  # parts an answer skipped
            print(
                f"  {part:<22} mean {sum(values) / len(values):7.1f}  "
                f"p95 {percentile(values, 95):7.1f}  {sum(values) / total:6.1%}"
            )


if __name__ == "__main__":
    main()
