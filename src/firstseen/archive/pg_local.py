"""A PostgreSQL server of this machine's own, in one directory: for the tests of the catalog on
PostgreSQL and for trying a deployment on one machine (`firstseen cluster up`).

It runs Debian's server binaries (/usr/lib/postgresql/*/bin, the `postgresql` package) as a user
other than root, as PostgreSQL demands: the caller itself, or Debian's `postgres` system user when
the caller is root (the directory is then handed to it). It listens on 127.0.0.1 only, on a free
port, and on a unix socket in the directory. Anyone on this machine may connect without a password
(trust authentication): fit for a test or a trial on one machine, never for a shared one; a real
deployment names its own server and passes its password in the environment (PGPASSWORD).
"""

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from firstseen.archive.local_host import free_port
from firstseen.errors import FirstseenError

# Where Debian puts each major version's server binaries.
_BINARIES = Path("/usr/lib/postgresql")
# Debian's system user for the server, taken when the caller is root.
_SYSTEM_USER = "postgres"
# Seconds pg_ctl waits for the server to start or stop: a cold start takes a few.
_WAIT_S = 60
# The database the catalog lives in.
DATABASE = "firstseen"
# For tests only: nothing is flushed to disk, so a test cluster starts and writes in milliseconds.
_NOT_DURABLE = ("fsync = off", "synchronous_commit = off", "full_page_writes = off")


@dataclass(frozen=True, slots=True)
class LocalPostgres:
    """A running local server: its directory, port, user and database."""

    dir: Path
    port: int
    user: str
    database: str = DATABASE

    @property
    def url(self) -> str:
        """The libpq URL of its database (no password: trust on 127.0.0.1)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"


def start_local_postgres(dir: Path, durable: bool = True) -> LocalPostgres:
    """Starts the server kept in `dir` (made there first if need be) and makes sure its
    database exists; returns it running. A server already running there is returned as it is.
    `durable=False` turns off flushing to disk, for tests."""
    bin_dir = server_binaries()
    user = _server_user()
    dir = dir.resolve()
    data = dir / "data"
    dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _hand_over(dir, user)
    running = _running_port(data)
    if running is None:
        if not (data / "PG_VERSION").exists():
            _init(bin_dir, data, user, durable)
        running = free_port()
        options = f"-p {running} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir}"
        _run_as(
            user,
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(dir / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(_WAIT_S),
                "start",
            ],
            f"starting PostgreSQL in {dir} (its log: {dir / 'postgres.log'})",
        )
    server = LocalPostgres(dir, running, user)
    _create_database(server)
    return server


def stop_local_postgres(dir: Path) -> None:
    """Stops the server kept in `dir`, if one is running there."""
    data = dir.resolve() / "data"
    if _running_port(data) is None:
        return
    user = pwd.getpwuid(data.stat().st_uid).pw_name
    _run_as(
        user,
        [
            str(server_binaries() / "pg_ctl"),
            "-D",
            str(data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(_WAIT_S),
            "stop",
        ],
        f"stopping PostgreSQL in {dir}",
    )


def server_binaries() -> Path:
    """The newest installed major version's bin directory; a one-line error naming the package
    when there is none."""
    found = sorted(
        (p.parent for p in _BINARIES.glob("*/bin/initdb")),
        key=lambda b: [int(n) for n in re.findall(r"\d+", b.parent.name)],
    )
    if not found:
        raise FirstseenError(
            f"no PostgreSQL server in {_BINARIES}/*/bin: install Debian's postgresql package "
            "(`make postgres`)"
        )
    return found[-1]


def _server_user() -> str:
    """Who runs the server: the caller, or Debian's system user when the caller is root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        raise FirstseenError(
            f"PostgreSQL refuses to run as root and there is no {_SYSTEM_USER!r} user: "
            "install Debian's postgresql package, or run as another user"
        ) from None
    return _SYSTEM_USER


def _hand_over(dir: Path, user: str) -> None:
    """Gives `dir` (and what the server wrote in it) to the server's user, and checks that it
    can reach it: a directory under one only root may enter (/root) cannot hold the server."""
    entry = pwd.getpwnam(user)
    for path in [dir, *dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    _run_as(user, ["test", "-w", str(dir), "-a", "-x", str(dir)], f"reaching {dir} as {user}")


def _init(bin_dir: Path, data: Path, user: str, durable: bool) -> None:
    """A new cluster in `data`: UTF-8 text compared by code point (the C locale), as SQLite
    compares it; trust authentication (this module's docstring says when that is fit)."""
    _run_as(
        user,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=trust",
        ],
        f"making a PostgreSQL cluster in {data}",
    )
    if not durable:
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{line}\n" for line in _NOT_DURABLE))


def _running_port(data: Path) -> int | None:
    """The port of the server running on `data`, from its postmaster.pid; None if none runs."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, and another user's
    return port


def _run_as(user: str, command: list[str], doing: str) -> None:
    """Runs `command` as `user` (through runuser when that is not who we are); a failure as one
    line naming what was being done and the command's last word on it."""
    if user != pwd.getpwuid(os.geteuid()).pw_name:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise FirstseenError(f"{doing}: runuser is missing (util-linux)")
        command = [runuser, "-u", user, "--", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=_WAIT_S * 2)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirstseenError(f"{doing}: {exc}") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise FirstseenError(f"{doing}: {said[-1] if said else f'exit code {done.returncode}'}")


def _create_database(server: LocalPostgres) -> None:
    """Creates the server's database unless it is there."""
    admin = f"postgresql://{server.user}@127.0.0.1:{server.port}/postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=_WAIT_S) as db:
            if db.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (server.database,)
            ).fetchone():
                return
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(server.database)))
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FirstseenError(
            f"creating database {server.database} in {server.dir}: {reason}"
        ) from exc
