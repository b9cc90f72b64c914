"""The Host header check: the server answers only requests addressed to it by a name it has.

A page of another site cannot read this server's answers, unless its own name is made to resolve
to this server's address (DNS rebinding): the browser then sends the attacker's name as Host. So a
request is answered only when its Host is an address the server listens on, a loopback name when
it listens on loopback, or a name allowed with `serve --allow-host`. A server listening on every
address (0.0.0.0, ::) answers any address literal, which no rebinding can produce.
"""

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")  # RFC 6761: localhost is always loopback
_MAX_SHOWN = 100  # characters of a refused Host repeated in the error


@dataclass(frozen=True, slots=True)
class HostPolicy:
    names: frozenset[str]  # lower-case host names and address literals (IPv6 without brackets)
    any_address: bool = False  # any IP address literal (a server listening on every address)

    def allows(self, host: str) -> bool:
        if host in self.names:
            return True
        return self.any_address and _is_address(host)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_policy(bind: str, allowed: Iterable[str] = ()) -> HostPolicy:
    """The Host names a server listening on `bind` answers, with `allowed` names added."""
    bind = bind.strip().strip("[]").lower()
    names = {bind, *(_host_name(name) for name in allowed)}
    any_address = False
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        address = None
    if bind == "localhost" or (address is not None and address.is_loopback):
        names.update(LOOPBACK_NAMES)
    elif address is not None and address.is_unspecified:
        any_address = True
        names.update(LOOPBACK_NAMES)
        names.add(socket.gethostname().lower())
    names.discard("")
    return HostPolicy(frozenset(names), any_address)


def _host_name(given: str) -> str:
    """A name as `--allow-host` takes it: host or host:port, an IPv6 literal with or without
    brackets."""
    given = given.strip().lower()
    if _is_address(given.strip("[]")):
        return given.strip("[]")
    return (urlsplit(f"//{given}").hostname or given).lower()


class HostCheck:
    """Refuses, with 421, a request whose Host header the policy does not allow (and with 400 one
    without a readable Host header)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("host", "")
        host = _parsed(given)
        if host is None:
            response = _refusal(400, "a request needs a valid Host header")
        elif not self.policy.allows(host):
            shown = given[:_MAX_SHOWN]
            response = _refusal(
                421,
                f"this server does not answer for the host {shown!r}: "
                "`firstseen serve --allow-host NAME` allows another name",
            )
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _parsed(given: str) -> str | None:
    """The host of a Host header (lower-case, IPv6 without brackets), None when malformed."""
    if not given or any(c in given for c in "/?#@\\ \t"):
        return None
    try:
        parts = urlsplit(f"//{given}")
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        return None
    return parts.hostname or None


def _refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message, "status": status}, status, headers={"Connection": "close"}
    )
