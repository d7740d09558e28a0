"""``hub ARGS`` in a process of its own, forked from a server that imported the platform once.

An e2e test arranges its world as an operator would, a dozen CLI commands or more; a new
interpreter pays about 1.5 s of imports for each (3 s and more on a loaded 2-core machine),
which was most of those tests' set-up. This server (one per test process, started on first
use) imports the CLI's modules once and forks a child per command: the command still runs in
a process of its own, with the caller's environment, working directory, standard streams in
files and its own exit code. The server is single-threaded, so forking it is safe (forking the
test process, with its server threads, is not); it ends when the test process does.

Protocol, one Unix-socket connection per command: the client sends one JSON line (env, cwd,
args, stdout and stderr paths); the server answers the command's pid, then its exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PRELOADED = (
    "hub.cli.main",
    "hub.config",
    "hub.persistence.session",
    "hub.persistence.tables",
    "hub.persistence.migrations",
    "hub.services.parties",
    "hub.services.locations",
    "hub.services.tariffs",
    "hub.roaming.importer",
    "aiosqlite",
    "asyncpg",
)
TIMEOUT_SECONDS = 60
REPOSITORY = Path(__file__).resolve().parents[2]


def _run_command(request: dict) -> None:
    """In the forked child: become the command, then end as the CLI's entry point ends."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for path, fd in ((request["stdout"], 1), (request["stderr"], 2)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["hub", *request["args"]]
    from hub.cli.main import main
    from hub.config import get_settings

    get_settings.cache_clear()  # read, if at all, in the server's environment
    main()  # ends the process with the command's exit code


def _serve_connection(connection: socket.socket) -> None:
    """In a forked helper: run the command in a grandchild, report its pid and exit status."""
    with connection, connection.makefile("rw") as stream:
        request = json.loads(stream.readline())
        pid = os.fork()
        if pid == 0:
            try:
                _run_command(request)
            finally:
                os._exit(70)  # the entry point did not end the process: an internal error
        stream.write(f"{pid}\n")
        stream.flush()
        _, status = os.waitpid(pid, 0)
        stream.write(f"{os.waitstatus_to_exitcode(status)}\n")
        stream.flush()


def serve(path: str) -> None:
    for module in PRELOADED:
        __import__(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # helpers are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)  # end of file: the test process is gone
    try:
        _accept_until_stdin_ends(listener, events)
    finally:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def _accept_until_stdin_ends(listener: socket.socket, events: selectors.BaseSelector) -> None:
    while True:
        for key, _ in events.select():
            if key.fileobj is sys.stdin:
                return
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this helper waits for its child
                try:
                    _serve_connection(connection)
                finally:
                    os._exit(0)
            connection.close()


class CliServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self.path = ""

    def _ensure_running(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            # A directory of its own per start: the server removes it when it ends.
            self.path = os.path.join(tempfile.mkdtemp(prefix="hub-cli-server-"), "socket")
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.cli_process", self.path],
                cwd=REPOSITORY,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._process.stdout is not None
            if self._process.stdout.readline().strip() != "ready":
                raise RuntimeError("the CLI server did not start")

    def run(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        self._ensure_running()
        with tempfile.TemporaryDirectory(prefix="hub-cli-") as work:
            out, err = Path(work, "stdout"), Path(work, "stderr")
            request = {
                "env": dict(env), "cwd": os.getcwd(), "args": list(args),
                "stdout": str(out), "stderr": str(err),
            }  # fmt: skip
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(TIMEOUT_SECONDS)
                client.connect(self.path)
                with client.makefile("rw") as stream:
                    stream.write(json.dumps(request) + "\n")
                    stream.flush()
                    pid = int(stream.readline())
                    try:
                        returncode = int(stream.readline())
                    except TimeoutError:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                        raise subprocess.TimeoutExpired(["hub", *args], TIMEOUT_SECONDS) from None
            return subprocess.CompletedProcess(
                ["hub", *args], returncode, out.read_text(), err.read_text()
            )


CLI_SERVER = CliServer()
"""This test process's server, started by its first command."""


if __name__ == "__main__":
    serve(sys.argv[1])
