"""The layout holds: three layers with arrows only downward, and one owner of Chroma.

Imports are read from the source (``ast``), including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

FRONT_ENDS = {
    "app",
    "assistant.cli",
    "assistant.eval",
    "assistant.__main__",
    "ingest.cli",
    "ingest.__main__",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    paths = [*ROOT.glob("assistant/**/*.py"), *ROOT.glob("ingest/**/*.py"), ROOT / "app.py"]
    return {module_name(path): path for path in paths}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def layer(module: str) -> str:
    if module in FRONT_ENDS or module.startswith("assistant.web"):
        return "front"
    if module.startswith("assistant.core"):
        return "core"
    if module.startswith("ingest"):
        return "write"
    return "read"


MODULES = project_modules()
GRAPH = {
    name: {target for target in imports_of(path) if target in MODULES and target != name}
    for name, path in MODULES.items()
}


def test_arrows_point_only_downward():
    allowed = {
        "core": {"core"},
        "write": {"core", "write"},
        "read": {"core", "read"},
        "front": {"core", "write", "read", "front"},
    }
    wrong = [
        f"{source} ({layer(source)}) imports {target} ({layer(target)})"
        for source, targets in GRAPH.items()
        for target in targets
        if layer(target) not in allowed[layer(source)]
    ]
    assert wrong == []


def test_the_query_front_ends_do_not_ingest():
    web = [name for name in GRAPH if name.startswith("assistant.web")]
    assert web, "the web app's modules were not found"
    for module in (*web, "assistant.cli", "assistant.eval"):
        assert not [t for t in GRAPH[module] if t.startswith("ingest")], module


def test_no_import_cycles():
    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError(" → ".join(path[path.index(node) :] + [node]))
        for target in GRAPH[node]:
            if target in ("assistant", "ingest"):  # the packages' own __init__ files
                continue
            visit(target, path + [node])

    for module in GRAPH:
        visit(module, [])


def test_only_the_store_touches_chroma():
    touching = sorted(
        name
        for name, path in MODULES.items()
        if any(
            target == "chromadb"
            or target.startswith("chromadb.")
            or target.startswith("llama_index.vector_stores.chroma")
            for target in imports_of(path)
        )
    )
    assert touching == ["assistant.core.store"]


# --- the query pipeline (assistant/pipeline/) --------------------------------------------
STEPS = {
    name: path for name, path in MODULES.items() if name.startswith("assistant.pipeline.steps.")
}
STEP_BASE = "assistant.pipeline.steps.base"
# Prompts whose text a user reads as the engine's own words (the rest are sent to an LLM,
# or are the extractive answerer's own draft).
USER_FACING_PROMPTS = {
    path.stem
    for path in (ROOT / "prompts").glob("*.txt")
    if path.stem.startswith(("premise_", "reason_"))
    or path.stem
    in {
        "not_found",
        "no_match",
        "llm_fallback",
        "leak_notice",
        "unsupported_notice",
        "unsupported_mark",
        "partial_mark",
        "unverified_mark",
    }
}
# Modules outside the text toolkit that may use regular expressions, and for what: none of
# them reads words, figures or sentences.
REGEX_ALLOWED = {
    "assistant.citations": "citation markers [n] and the sources list",
    "assistant.markup": "HTML and Markdown escaping",
    "assistant.filters": "dates in filters",
    "assistant.export": "years, arXiv ids and URLs in BibTeX",
    "assistant.leak_guard": "whitespace folding",
    "assistant.questions": "control characters and lone surrogates",
    "assistant.web.render": "citation links in the page",
    "assistant.claims_eval": "the numbered sources of an LLM prompt",
}


def test_the_pipeline_has_its_steps():
    names = {name.rsplit(".", 1)[-1] for name in STEPS}
    assert {
        "condense",
        "retrieve",
        "gate",
        "premises",
        "draft",
        "verify",
        "llm_verify",
        "compose",
    } <= names


def test_no_step_imports_another_step():
    wrong = [
        f"{step} imports {target}"
        for step in STEPS
        for target in GRAPH[step]
        if target in STEPS and target != STEP_BASE
    ]
    assert wrong == []


def numeric_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and node.value not in (0, 1)
    ]


def test_steps_hold_no_tuned_numbers_and_no_text_rules():
    """Numbers are tuning (assistant/tuning.py); word, figure and sentence rules are the
    text toolkit's (assistant/text/)."""
    found = [literal for path in STEPS.values() for literal in numeric_literals(path)]
    assert found == []
    with_re = [step for step, path in STEPS.items() if "re" in imports_of(path)]
    assert with_re == []


def test_only_the_text_toolkit_compiles_text_rules():
    using_re = {
        name
        for name, path in MODULES.items()
        if name.startswith("assistant.")
        and not name.startswith(("assistant.text.", "assistant.core."))
        and "re" in imports_of(path)
    }
    assert using_re <= set(REGEX_ALLOWED), sorted(using_re - set(REGEX_ALLOWED))


def prompt_names_used(path: Path) -> set[str]:
    """Names passed as a string literal to load_prompt/render, and f-string prefixes."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("load_prompt", "render")
            and node.args
        ):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.JoinedStr):  # render(f"premise_{rule}")
                prefix = first.values[0]
                if isinstance(prefix, ast.Constant):
                    names.add(f"{prefix.value}*")
    return names


def test_only_the_compose_step_writes_what_the_user_reads():
    """The engine's own sentences (declines, premise replies, cautions, notices, the
    unsupported mark) are worded in one place: the compose step, from prompts/."""
    compose = "assistant.pipeline.steps.compose"
    # these only look for the marks in an answer (to show a badge, to score the checks)
    mark_readers = {"assistant.web.render", "assistant.claims_eval"}
    writers = {}
    for name, path in MODULES.items():
        used = prompt_names_used(path)
        facing = {n for n in used if n in USER_FACING_PROMPTS or n == "premise_*"}
        if facing:
            writers[name] = facing
    assert compose in writers and set(writers) <= {compose, *mark_readers}, writers
    for reader in mark_readers:
        assert writers.get(reader, set()) <= {"unsupported_mark", "partial_mark", "unverified_mark"}
