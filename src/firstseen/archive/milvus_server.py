"""A Milvus Lite server on this machine, for a deployment tried on one machine (`firstseen
cluster up`) and for tests.

Milvus Lite opened from a `.db` path runs inside the process that opens it and locks its
directory (`flock`), so a second process (a CLI `add` beside `firstseen serve`) cannot open it.
Several processes share one Milvus Lite through its own gRPC server (`python -m milvus_lite
server`), which `start_local_milvus` starts detached, listening on 127.0.0.1 only, with its data
in `DIR/milvus`; it outlives the command that started it, and `stop_local_milvus(DIR)` (from any
process) stops it. `DIR/milvus-server.json` says which process and port it is.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from firstseen.archive.durable import replace_file
from firstseen.archive.local_host import HOST, free_port
from firstseen.errors import FirstseenError

DATA = "milvus"  # the data directory's name in DIR
STATE = "milvus-server.json"  # which process serves DIR, on which port
LOG = "milvus-server.log"  # what the server prints
_START_WAIT = 60.0  # seconds for the server to answer: it imports pymilvus and numpy first
_STOP_WAIT = 30.0  # seconds for a graceful stop (it drains requests for 5 s, then closes)
_POLL = 0.1  # seconds between checks while waiting


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running Milvus Lite server: its process and its port on `HOST`."""

    pid: int
    port: int

    @property
    def uri(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_local_milvus(directory: Path) -> str:
    """The URI of the Milvus Lite server holding its data in `directory`, started if none runs;
    raises FirstseenError naming the log if it does not come up."""
    running = local_milvus(directory)
    if running is not None:
        return running.uri
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (directory / LOG).open("ab") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "milvus_lite", "server"),
                *("--data-dir", str(directory / DATA), "--host", HOST, "--port", str(port)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not stopped with the command's terminal or process group
        )
    server = LocalServer(process.pid, port)
    if not _answers(process, port):
        _end(process.pid)
        process.wait()
        raise FirstseenError(
            f"Milvus Lite did not start in {directory / DATA}: see {directory / LOG}"
        )
    replace_file(directory / STATE, json.dumps(asdict(server)).encode())
    return server.uri


def local_milvus(directory: Path) -> LocalServer | None:
    """The Milvus Lite server serving `directory`, if one runs."""
    try:
        server = LocalServer(**json.loads((directory / STATE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not _serves(server.pid, directory / DATA) or not _listening(server.port):
        return None
    return server


def stop_local_milvus(directory: Path) -> bool:
    """Stops the Milvus Lite server serving `directory` (it closes its data cleanly); False if
    none ran."""
    server = local_milvus(directory)
    (directory / STATE).unlink(missing_ok=True)
    if server is None:
        return False
    _end(server.pid)
    return True


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _answers(process: subprocess.Popen[bytes], port: int) -> bool:
    """Waits until the server accepts connections; False if it exits or takes too long."""
    deadline = time.monotonic() + _START_WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _listening(port):
            return True
        time.sleep(_POLL)
    return False


def _serves(pid: int, data: Path) -> bool:
    """Whether process `pid` is a Milvus Lite server of `data` (not a process that took the
    number since)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"milvus_lite" in command and os.fsencode(data) in command


def _end(pid: int) -> None:
    """Interrupts the server, which then closes its data; kills it if it has not ended in time."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _STOP_WAIT
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(_POLL)
    os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended but is not yet reaped by its parent (the starting process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return True
