"""Start the test suite's app and CLI processes as forks of one that has already imported
their heavy modules.

Each ``python app.py`` or ``python -m ingest`` a test starts spends most of its CPU on
imports before it does anything the test is about: Gradio alone is ~5 s of CPU, llama-index,
Chroma and ONNX Runtime ~4 s more; the suite starts dozens of them on two cores. A *fork
server* (one per test process, started on first use) imports those modules once and then
forks a child per request; the child sets its working directory, environment, arguments
and standard streams and runs the program as ``python`` would (``runpy``), so each start
costs what the program itself does.

The children are real processes: their own pid, sockets, signals (SIGTERM, kill -9), exit
status and output files. What differs from a cold start is only that the modules were
imported earlier, in a process with the test run's environment; the tests about cold
starts (what a start imports, how long it takes, an installed wheel) start their own
interpreters and never come here. The test suite turns it on (``PAPER_ASSISTANT_PREFORK=1``,
set by ``tests/conftest.py`` unless already set: ``PAPER_ASSISTANT_PREFORK=0 pytest`` starts
every process cold); elsewhere (benchmarks, the load script) apps start cold, and so they
do when the fork server cannot start.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the fork server imports before serving: the web app's and the CLIs' heavy modules.
# Gradio comes through the app's own importer (which skips its stub rewriting).
# Not ONNX Runtime: importing it starts native threads, and a forked child of a process
# with threads hangs at exit (its destructors wait for threads the child does not have).
PRELOAD = (
    "chromadb",
    "tokenizers",
    "llama_index.core",
    "assistant.engine",
    "assistant.cli",
    "assistant.web.server",
    "assistant.web.http_api",
    "ingest.pipeline",
    "ingest.check",
    "ingest.cli",
)


# --- the fork server (``python -m devtools.prefork``) --------------------------------
def preload() -> None:
    from assistant.web.gradio_import import import_gradio

    for name in PRELOAD:
        __import__(name)
    import_gradio()
    __import__("assistant.web.ui")


def serve(requests, replies) -> dict:  # noqa: ANN001 (a raw binary file, a text file)
    """Answer start requests (one JSON line each) with a fork each, report each child's
    exit, until ``requests`` closes; returns only in a forked child, with its request."""
    pending = b""

    def reply(**message: object) -> None:
        replies.write(json.dumps(message) + "\n")

    threads = len(os.listdir("/proc/self/task"))  # native threads too (BLAS pools, …)
    reply(ready=threads == 1, threads=threads, env=dict(os.environ))
    if threads != 1:  # a forked child of a process with threads can deadlock
        raise SystemExit(1)
    children: set[int] = set()
    while True:
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            reply(exited=pid, rc=os.waitstatus_to_exitcode(status))
        readable, _, _ = select.select([requests], [], [], 0.05)
        if not readable:
            continue
        chunk = requests.read(65536)
        if not chunk:  # the test process is gone: so go its children
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            raise SystemExit(0)
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                replies.close()
                requests.close()
                return request
            children.add(pid)
            reply(started=request["id"], pid=pid)


def run_child(request: dict) -> None:
    """Become the requested program: streams, directory, environment, arguments, then run
    it as ``python`` would; its exit (or uncaught error) ends the process the usual way."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as a fresh interpreter has it
    for stream, path in ((0, request["stdin"]), (1, request["stdout"]), (2, request["stderr"])):
        if path == "stdout":
            os.dup2(1, stream)
            continue
        flags = os.O_RDONLY if stream == 0 else os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = os.open(path, flags, 0o644)
        os.dup2(fd, stream)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = list(argv)
        sys.path[0] = str(Path(argv[0]).resolve().parent)
        runpy.run_path(argv[0], run_name="__main__")


def exit_as_python(run) -> None:  # noqa: ANN001 (a callable)
    """Run ``run()`` and end the process as the interpreter would after a program: exit
    status from ``SystemExit`` (a message for a non-int), a traceback and 1 for an error;
    non-daemon threads joined, ``atexit`` handlers run, streams flushed. Then ``_exit``:
    tearing down every module the fork server imported would cost a second per child."""
    code = 0
    try:
        run()
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT  # python dies of SIGINT after a KeyboardInterrupt: so does this
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # noqa: SLF001 (what the interpreter's own exit calls)
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code == -signal.SIGINT:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def main() -> None:
    # The protocol gets its own copies of stdin and stdout; the standard streams are then
    # pointed away from it, so nothing a module prints can garble a reply.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    preload()
    request = serve(requests, replies)
    exit_as_python(lambda: run_child(request))


# --- the test side ----------------------------------------------------------------------
class ForkedProcess:
    """A child of the fork server, driven like :class:`subprocess.Popen` (the parts tests
    use: ``pid``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``)."""

    def __init__(self, server: ForkServer, args: list[str], pid: int):
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self._server = server

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        code = self._server.wait_exit(self.pid, deadline)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.returncode = code
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """One fork server per test process; :func:`start_python` finds it."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.prefork"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._next_id = 0
        first = json.loads(self.process.stdout.readline() or b"{}")
        self.ready = bool(first.get("ready"))
        self.env: dict[str, str] = first.get("env", {})  # as its imports left it
        if self.ready:
            threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            with self._changed:
                if "started" in message:
                    self._started[message["started"]] = message["pid"]
                else:
                    self._exits[message["exited"]] = message["rc"]
                self._changed.notify_all()
        with self._changed:
            self.ready = False
            self._changed.notify_all()

    def start(
        self, argv: list[str], cwd: Path, env: dict[str, str], stdout: str, stderr: str
    ) -> ForkedProcess:
        with self._lock:
            self._next_id += 1
            request = {
                "id": self._next_id,
                "argv": argv,
                "cwd": str(cwd),
                "env": env,
                "stdin": os.devnull,
                "stdout": stdout,
                "stderr": stderr,
            }
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        with self._changed:
            if not self._changed.wait_for(
                lambda: request["id"] in self._started or not self.ready, timeout=60
            ):
                raise RuntimeError("the fork server did not start the process")
            if request["id"] not in self._started:
                raise RuntimeError("the fork server stopped")
            pid = self._started.pop(request["id"])
        return ForkedProcess(self, [sys.executable, *argv], pid)

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            return self._exits.get(pid)

    def wait_exit(self, pid: int, deadline: float | None) -> int | None:
        with self._changed:
            while pid not in self._exits:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            return self._exits[pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the server kills what is left and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def _fork_server() -> ForkServer | None:
    """This process's fork server, started on first use; None unless turned on, or when
    it cannot serve."""
    global _server
    if os.environ.get("PAPER_ASSISTANT_PREFORK") != "1":
        return None
    with _server_lock:
        if _server is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
            _server = ForkServer(env)
            atexit.register(_server.stop)
        return _server if _server.ready else None


# Variables read only while a program runs, never when a module is imported: the project's
# settings, pytest's note of the current test, uvicorn's trusted proxies (set by the app).
RUN_TIME_ONLY = ("ASSISTANT_", "PYTEST_CURRENT_TEST", "FORWARDED_ALLOW_IPS")


def forkable(env: dict[str, str], server_env: dict[str, str]) -> bool:
    """Whether a child with ``env`` may be a fork: its environment is the fork server's
    (as the server's imports left it) apart from :data:`RUN_TIME_ONLY`. Other variables may
    have been read when a module was imported (``TMPDIR`` by ``tempfile``, ``GRADIO_*`` by
    Gradio), so a child that sets one differently starts afresh."""

    def compared(variables: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in variables.items() if not k.startswith(RUN_TIME_ONLY)}

    return compared(env) == compared(server_env)


def start_python(
    argv: list[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path | None = None
):
    """``python *argv`` with its output to files (``stderr`` None: into ``stdout``'s): a
    fork of the fork server when there is one and the environment allows it (see
    :func:`forkable`), else a fresh interpreter."""
    for output in (stdout, stderr):
        if output is not None:
            Path(output).touch()  # there on return, whichever way the child starts
    server = _fork_server()
    if server is not None and forkable(env, server.env):
        return server.start(
            argv, cwd, env, str(stdout), "stdout" if stderr is None else str(stderr)
        )
    out = open(stdout, "ab")  # noqa: SIM115 (the child holds it; closed here after the start)
    err = subprocess.STDOUT if stderr is None else open(stderr, "ab")  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=out, stderr=err)
    finally:
        out.close()
        if stderr is not None:
            err.close()


def run_python(
    argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([python, *argv], capture_output=True, text=True)``, through
    :func:`start_python`."""
    with tempfile.TemporaryDirectory(prefix="run-python-") as folder:
        stdout, stderr = Path(folder) / "stdout", Path(folder) / "stderr"
        process = start_python(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(
            [sys.executable, *argv],
            code,
            stdout.read_text(encoding="utf-8", errors="replace"),
            stderr.read_text(encoding="utf-8", errors="replace"),
        )


if __name__ == "__main__":
    main()
