"""What web_fetch may reach: http(s) only, hosts on the allow-list, public addresses only (SSRF).

Every hop of a redirect chain is checked again. The host is resolved here and *every* address it
resolves to must be public (unless `allow_private`); the request then goes to the address that was
checked, so a DNS answer that changes between the check and the connection cannot redirect it.
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
            if not _parse(address).is_global:
                where = host if host == address else f"{host} resolves to {address}, which"
                raise FetchRefused(
                    f"{where} is a private, loopback or reserved address; "
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
