"""The suite's fork server (``devtools.prefork``) starts processes that behave as
``python …`` would: working directory, environment, arguments, output files, exit status,
signals; a child whose environment differs where an import may have read it starts cold."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from devtools import prefork
from devtools.prefork import run_python, start_python
from tests.conftest import ROOT

REPORT = "import os, sys; print(os.getppid(), os.getcwd(), os.environ.get('ASSISTANT_X'), sys.argv)"


@pytest.fixture
def server() -> prefork.ForkServer:
    found = prefork._fork_server()
    if found is None:  # PAPER_ASSISTANT_PREFORK=0, or threads at import (no OMP_NUM_THREADS=1)
        pytest.skip("no fork server in this run: every process starts cold")
    return found


def test_a_child_runs_as_python_would(server, tmp_path: Path):
    env = dict(os.environ, ASSISTANT_X="forty-two")
    done = run_python(["-c", REPORT + "; sys.exit(3)", "one"], cwd=tmp_path, env=env, timeout=60)
    parent, cwd, value, argv = done.stdout.split(" ", 3)
    assert int(parent) == server.process.pid  # a fork, not a fresh interpreter
    assert (cwd, value, argv.strip(), done.returncode) == (
        str(tmp_path),
        "forty-two",
        "['-c', 'one']",
        3,
    )
    module = run_python(["-m", "ingest", "--thorough"], cwd=ROOT, env=env, timeout=60)
    assert module.returncode == 2 and "--thorough goes with --check" in module.stderr
    failed = run_python(["-c", "raise ValueError('boom')"], cwd=tmp_path, env=env, timeout=60)
    assert failed.returncode == 1 and "ValueError: boom" in failed.stderr


def test_signals_reach_the_child_and_its_status_says_so(server, tmp_path: Path):
    log = tmp_path / "child.log"
    sleeper = ["-c", "import time; print('up', flush=True); time.sleep(60)"]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        child = start_python(sleeper, cwd=tmp_path, env=dict(os.environ), stdout=log)
        deadline = time.monotonic() + 30
        while "up" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.poll() is None
        child.send_signal(signum)
        assert child.wait(timeout=30) == -signum


def test_a_child_that_changes_an_import_time_variable_starts_cold(server, tmp_path: Path):
    env = dict(os.environ, TMPDIR=str(tmp_path))  # tempfile reads it once, on first use
    done = run_python(["-c", REPORT], cwd=tmp_path, env=env, timeout=60)
    assert int(done.stdout.split()[0]) == os.getpid() != server.process.pid
    assert prefork.forkable(dict(os.environ, ASSISTANT_PORT="1"), server.env)
    assert not prefork.forkable(dict(os.environ, GRADIO_SERVER_NAME="0.0.0.0"), server.env)
    assert sys.executable in done.args
