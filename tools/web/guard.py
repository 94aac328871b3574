"""What web_fetch may reach: http(s) only, hosts on the allow-list, public addresses only (SSRF).

Every hop of a redirect chain is checked again. The host is resolved here and *every* address it
resolves to must be public (unless `allow_private`); the request then goes to the address that was
checked, so a DNS answer that changes between the check and the connection cannot redirect it.
An IPv6 address that carries an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped, -compatible or
-translated, ISATAP) is public only when the IPv4 address it carries is public too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from tools.base import ToolError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class FetchRefused(ToolError):
    """A URL web_fetch will not fetch; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc.strerror}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """`docs.python.org` matches itself; `*.python.org` (or `.python.org`) matches its subdomains."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith(("*.", ".")):
            suffix = pattern[pattern.index(".") :]
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def check_scheme(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs can be fetched, not {url.scheme or 'a relative URL'}")
    if not url.host:
        raise FetchRefused(f"the URL {url} has no host")


def _parse(address: str) -> Address:
    parsed = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


_V6 = ipaddress.IPv6Network
# IPv6 forms whose packets reach the IPv4 address they embed (RFC 6052, 3056, 4380, 4291, 2765, 5214)
_NAT64 = _V6("64:ff9b::/96")
_LOCAL_NAT64 = _V6("64:ff9b:1::/48")  # RFC 8215: local use only; where it embeds depends on the site
_SIXTOFOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
_COMPATIBLE = _V6("::/96")  # IPv4-compatible (deprecated); :: and ::1 too, both refused anyway
_TRANSLATED = _V6("::ffff:0:0:0/96")  # IPv4-translated (SIIT)
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface identifier 0000:5efe or 0200:5efe, then the IPv4


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """The IPv4 addresses an IPv6 address carries, each with the form that carries it."""
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found: list[tuple[ipaddress.IPv4Address, str]] = []
    if address in _NAT64:
        found.append((low, "NAT64"))
    if address.sixtofour is not None:
        found.append((address.sixtofour, "6to4"))
    if address.teredo is not None:
        server, client = address.teredo
        found += [(server, "Teredo server"), (client, "Teredo client")]
    if address in _COMPATIBLE or address in _TRANSLATED:
        found.append((low, "IPv4-compatible" if address in _COMPATIBLE else "IPv4-translated"))
    if (int(address) >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append((low, "ISATAP"))
    return found


def _public(address: Address) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def why_not_public(address: Address) -> str | None:
    """None for a public address; else why it is not one (naming an embedded IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return f"{address} is in the local-use NAT64 prefix {_LOCAL_NAT64}, "
        for inner, form in embedded_ipv4(address):
            if not _public(inner):
                return f"{address} embeds the IPv4 address {inner} ({form}), which "
        if address in _NAT64:  # in ::/8, "reserved": on a DNS64 network every IPv4 site is one
            return None
    return None if _public(address) else f"{address} "


def public_address(host: str, port: int, resolver: Resolver, allow_private: bool) -> str:
    """The address to connect to, after checking every address `host` resolves to."""
    try:
        addresses = [host] if _is_ip(host) else resolver(host, port)
    except OSError as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise FetchRefused(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = why_not_public(_parse(address))
            if reason is not None:
                where = "" if host == address else f"{host} resolves to {address}: "
                raise FetchRefused(
                    f"{where}{reason}is a private, loopback or reserved address; "
                    "web_fetch only reaches public hosts (set allow_private = true under [web_fetch] "
                    "to allow local servers)"
                )
    return addresses[0]


def _is_ip(host: str) -> bool:
    try:
        _parse(host)
    except ValueError:
        return False
    return True
