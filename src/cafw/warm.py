"""Warm starts: many short ``cafw`` commands on one machine without paying for ``import torch``
in each.

A pipeline on a CPU runs a hundred jobs of a few seconds each, and every one would spend about
three seconds starting Python and importing torch, pandas and the library.  A *warm server*
imports them once and listens on a Unix socket.  A ``cafw`` command whose environment names
that socket (``CAFW_WARM``) sends the server its arguments, working directory, environment and
standard streams (the file descriptors themselves, passed over the socket) and waits; the
server forks a child, which runs the command as a new process would, with those streams, and
reports the exit status back.  This is the zygote pattern of Android and of
``multiprocessing``'s forkserver, across processes.

The command runs in the client's own process instead, exactly as without warm starts, when no
server answers, when the client is one of several processes (torchrun), or when the client's
interpreter, import path or any environment variable read while importing (threads, CPU
kernels, CUDA devices: ``IMPORT_TIME_VARIABLES``) differs from the server's.  A forked command
computes what a fresh process computes (a test trains a run both ways and compares the weights
bit by bit): the server has only imported modules, never run an operation.

Signals reach the command: the client relays SIGTERM, SIGINT and SIGHUP to the child, and a
child whose client is gone (killed outright) stops itself with SIGTERM, so a training run
checkpoints either way.  The server ends with the process that started it.

Snakemake starts a server for local runs (``workflow/rules/common.smk``); set
``CAFW_WARM=off`` to run every command cold.  Snakemake's ``benchmark:`` files then time a
job's wall clock as before, but their memory and CPU columns describe the client only.

    start_server()                      # in Snakemake: a server for the jobs it starts
    code = run_warm(argv)               # in a job: its exit code, or None: run it here
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import struct
import sys
import threading

#: the variable that names the server's socket; "off" disables warm starts
SOCKET_VARIABLE = "CAFW_WARM"
#: the commands worth forking: those that import torch, pandas or matplotlib
WARM_COMMANDS = frozenset({"train", "compress", "bench", "aggregate", "select", "claims",
                           "figure", "paper", "lr-theory"})
#: environment variables (by prefix) that torch and its libraries read while being imported
IMPORT_TIME_VARIABLES = ("OMP_", "MKL_", "KMP_", "OPENBLAS_", "GOTO", "VECLIB_", "NUMEXPR_",
                         "ATEN_", "ONEDNN_", "DNNL_", "CUDA_", "NVIDIA_", "TORCH", "PYTORCH_",
                         "LD_", "PYTHON")
#: what Snakemake sets to a job's thread count in the job's environment (snakemake.shell)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: set by torchrun in each of its processes, which it watches and signals itself
DISTRIBUTED_VARIABLES = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")
#: what the server imports once (each only where its extra is installed)
PRELOAD = ("torch", "cafw.train", "cafw.compress.sweep", "cafw.bench.compute", "pandas",
           "scipy.stats", "cafw.pipeline.aggregate", "cafw.pipeline.claims",
           "cafw.pipeline.figures", "cafw.pipeline.paper")
RELAYED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PARENT_CHECK_SECONDS = 1.0


def fingerprint(environ: dict[str, str]) -> dict:
    """What a forked command must share with the server to compute what a fresh process
    would: the interpreter, the import path and the import-time environment."""
    # sys.path[0] is the script's directory or the working directory: neither holds cafw
    return {"executable": sys.executable, "path": sys.path[1:],
            "environment": {k: v for k, v in sorted(environ.items())
                            if k.startswith(IMPORT_TIME_VARIABLES)}}


# -- the client ---------------------------------------------------------------------------------

def run_warm(argv: list[str]) -> int | None:
    """Run ``cafw argv`` in a child of the warm server and return its exit code; None where it
    must run in this process instead (module docstring)."""
    path = os.environ.get(SOCKET_VARIABLE, "")
    if (not path or path == "off" or not argv or argv[0] not in WARM_COMMANDS
            or any(v in os.environ for v in DISTRIBUTED_VARIABLES)):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:  # no server (any more): the command runs here
        connection.close()
        return None
    with connection:
        request = {"argv": argv, "cwd": os.getcwd(), "environment": dict(os.environ),
                   "fingerprint": fingerprint(os.environ)}
        _send(connection, request, fds=[0, 1, 2])
        started = _receive(connection)
        if started is None or "pid" not in started:
            return None  # the server declined: another interpreter or environment
        return _wait(connection, started["pid"])


def _wait(connection: socket.socket, pid: int) -> int:
    """Relay signals to the child until it reports its exit code."""
    def relay(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, relay) for s in RELAYED_SIGNALS}
    try:
        finished = _receive(connection)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if finished is None:
        print(f"cafw: the command's process (pid {pid}) ended without an exit status, killed "
              "by a signal; rerun it with CAFW_WARM=off to see it fail in its own process",
              file=sys.stderr)
        return 1
    return finished["exit"]


# -- the server ---------------------------------------------------------------------------------

def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> None:
    """Import ``preload``, then fork a child per request on the socket ``path`` until the
    process that started the server exits."""
    parent = os.getppid()
    # bound before the imports: an early client waits in the backlog instead of running cold
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(PARENT_CHECK_SECONDS)
    try:
        signal.signal(signal.SIGTERM, _exit)  # cleanly: the socket file goes too
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
        for module in preload:
            try:
                importlib.import_module(module)
            except ImportError:  # an extra that is not installed: its commands import it cold
                pass
        own = fingerprint(os.environ)
        while os.getppid() == parent:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            with connection:
                request, fds = _receive_with_fds(connection)
                if request is None:
                    pass  # the client went away
                elif request["fingerprint"] != own:
                    _send(connection, {"declined": "another interpreter or environment"})
                elif os.fork() == 0:
                    listener.close()
                    _child(connection, request, fds)  # never returns
                for fd in fds:
                    os.close(fd)
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)


def _exit(signum, frame) -> None:
    raise SystemExit(0)


def _child(connection: socket.socket, request: dict, fds: list[int]) -> None:
    """Become the client's command: its streams, directory, environment and arguments."""
    code = 1
    try:
        for s in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(s, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["environment"])
        sys.argv = ["cafw", *request["argv"]]
        _send(connection, {"pid": os.getpid()})
        threading.Thread(target=_stop_when_gone, args=(connection,), daemon=True).start()
        code = _main(request["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a stream closed by the command itself
                pass
        try:
            _send(connection, {"exit": code})
        finally:
            os._exit(code)


def _main(argv: list[str]) -> int:
    from .cli import main

    return main(argv, warm=False)


def _stop_when_gone(connection: socket.socket) -> None:
    """SIGTERM this child once the client's end of the connection closes (it was killed)."""
    try:
        while connection.recv(1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


# -- messages: a length, then JSON ----------------------------------------------------------------

def _send(connection: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    body = json.dumps(message).encode()
    data = struct.pack("!I", len(body)) + body
    if fds:
        socket.send_fds(connection, [data], fds)
    else:
        connection.sendall(data)


def _receive(connection: socket.socket) -> dict | None:
    return _receive_with_fds(connection)[0]


def _receive_with_fds(connection: socket.socket) -> tuple[dict | None, list[int]]:
    """A message and the file descriptors that came with it; None at the end of the stream."""
    try:
        head, fds, _, _ = socket.recv_fds(connection, 4, 3)
        rest = _exactly(connection, 4 - len(head)) if head else None
        if rest is None:
            return None, fds
        body = _exactly(connection, struct.unpack("!I", head + rest)[0])
    except OSError:
        return None, []
    return (None if body is None else json.loads(body)), fds


def _exactly(connection: socket.socket, size: int) -> bytes | None:
    """``size`` bytes, or None if the stream ends first."""
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def start_server(threads: int) -> None:
    """Start a server for the commands this process starts from now on (``CAFW_WARM`` names
    its socket, in a new temporary directory); it stops when this process exits.  Nothing
    happens where ``CAFW_WARM=off``.

    The server imports torch with the thread variables Snakemake sets for a job of
    ``threads`` threads (``THREAD_VARIABLES``), so that such jobs share its fingerprint; jobs
    of other thread counts run cold."""
    import atexit
    import shutil
    import subprocess
    import tempfile

    if os.environ.get(SOCKET_VARIABLE) == "off":
        return
    directory = tempfile.mkdtemp(prefix="cafw-warm-")
    path = os.path.join(directory, "socket")
    environment = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    server = subprocess.Popen([sys.executable, "-m", "cafw.warm", path], env=environment,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    os.environ[SOCKET_VARIABLE] = path

    def stop() -> None:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)

    atexit.register(stop)


if __name__ == "__main__":
    serve(sys.argv[1])
