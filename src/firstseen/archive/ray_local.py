"""A Ray head on this machine, for a deployment tried on one machine (`firstseen cluster up`):
started detached with Ray's own `ray start --head`, without the dashboard or usage reporting, in
Ray's single-machine mode so that it listens on 127.0.0.1 only (outside that mode Ray turns
127.0.0.1 into the machine's outward address and listens on every interface). `ray stop` stops
it, and every other Ray process of this user on this machine: fit for a trial machine, not a
shared one.
"""

import os
import subprocess
import sys
from pathlib import Path

from firstseen.archive.local_host import HOST, free_port
from firstseen.errors import FirstseenError

LOG = "ray-head.log"
SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": every Ray process on 127.0.0.1
_WAIT_S = 120  # seconds for `ray start` / `ray stop`: a cold start imports a lot


def start_local_ray(directory: Path, cpus: int | None = None) -> str:
    """Starts a Ray head logging into `directory`; returns its address (host:port)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = ["start", "--head", f"--node-ip-address={HOST}", f"--port={port}"]
    command += ["--include-dashboard=false", "--disable-usage-stats"]
    if cpus:
        command.append(f"--num-cpus={cpus}")
    _ray(command, directory, "start a Ray head")
    return f"{HOST}:{port}"


def stop_local_ray(directory: Path) -> None:
    """Stops the Ray processes of this user on this machine."""
    _ray(["stop"], directory, "stop Ray")


def _ray(arguments: list[str], directory: Path, doing: str) -> None:
    with (directory / LOG).open("ab") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "ray.scripts.scripts", *arguments],
                stdin=subprocess.DEVNULL,
                env={**os.environ, SINGLE_MACHINE: "0", "RAY_USAGE_STATS_ENABLED": "0"},
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=_WAIT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirstseenError(f"cannot {doing}: {exc}") from exc
    if done.returncode != 0:
        raise FirstseenError(f"cannot {doing}: see {directory / LOG}")
