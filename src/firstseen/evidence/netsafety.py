"""Which addresses a capture may connect to: no SSRF into the machine or its networks.

A URL is checked by the addresses its host resolves to, never by its name, so `localhost`,
`0x7f.1`, `2130706433` or a public name pointing at 10.0.0.5 are all seen for what they are. Every
resolved address must be public (globally routable unicast); the connection is then made to the
checked address itself, so a second DNS answer cannot swap in another one, and every redirect is
checked again from scratch. `--allow-private` lifts the rule; `--allow-network CIDR` lifts it for
named networks only (the tests allow 127.0.0.1/32 and nothing else).
"""

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from firstseen.errors import FirstseenError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")


class UnsafeAddress(FirstseenError):
    """A URL that a capture refuses to fetch."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Which non-public addresses are allowed: all of them, or those in `networks`."""

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str] = (), allow_private: bool = False) -> "Policy":
        try:
            parsed = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)
        except ValueError as exc:
            raise FirstseenError(f"not a network: {exc}") from None
        return cls(allow_private, parsed)

    def permits(self, address: IPAddress) -> bool:
        if self.allow_private or is_public(address):
            return True
        plain = _unmapped(address)
        return any(plain in n for n in self.networks if n.version == plain.version)


def _unmapped(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (::ffff:127.0.0.1) as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def kind(address: IPAddress) -> str:
    """Why an address is not public, in words."""
    address = _unmapped(address)
    for test, name in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, test):
            return name
    return "public" if is_public(address) else "non-routable"


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared (100.64/10),
    multicast, reserved, documentation or unspecified, including as IPv4-mapped IPv6."""
    address = _unmapped(address)
    if address.is_multicast or address.is_unspecified or address.is_loopback:
        return False
    if address.is_link_local or address.is_private or address.is_reserved:
        return False
    return address.is_global


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; anything else is refused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress(f"{url}: not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeAddress(f"{url}: only http and https URLs are fetched, not {scheme or 'this'}")
    if not parts.hostname:
        raise UnsafeAddress(f"{url}: no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeAddress(f"{url}: URLs with credentials are not fetched")
    try:  # internationalised names as their ASCII (punycode) form, for DNS, Host and TLS alike
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeAddress(f"{url}: not a valid host name") from None
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int, policy: Policy) -> list[IPAddress]:
    """The addresses `host` resolves to, all of them permitted, or UnsafeAddress naming the first
    that is not. A name that resolves to one public and one private address is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeAddress(f"{host}: cannot resolve ({exc})") from None
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeAddress(f"{host}: no addresses")
    for address in addresses:
        if not policy.permits(address):
            if host.strip("[]") == str(address):
                reason = f"{host} is a {kind(address)} address"
            else:
                reason = f"{host} resolves to {address}, a {kind(address)} address"
            raise UnsafeAddress(
                f"{reason}: refused (use --allow-private to capture from private networks)"
            )
    return addresses


def check_url(url: str, policy: Policy) -> tuple[str, str, int, Sequence[IPAddress]]:
    """(scheme, host, port, permitted addresses) of a URL that may be fetched."""
    scheme, host, port = parse_url(url)
    return scheme, host, port, resolve(host, port, policy)
