"""The address rule of the fetcher (ingest/fetch.py): which IP addresses articlebot may connect to.

- The rule is an explicit list (DENIED), not Python's `is_global`, whose answers change between patch releases
  (3.11.7 calls 2002:a9fe:a9fe::, fec0::1 and 192.0.0.8 global). IPv4 written inside IPv6 (mapped, compatible,
  6to4, Teredo, NAT64) is decoded and checked as IPv4, and legacy IPv4 spellings (2130706433, 0177.0.0.1, 127.1)
  are read as the C resolver reads them.
- ALLOW_PRIVATE_URLS opens loopback and private ranges (intranet feeds); link-local addresses, where cloud metadata
  services answer (169.254.169.254, fd00:ec2::254), stay closed unless ALLOW_LINK_LOCAL_URLS opens them too;
  unspecified, multicast, documentation and reserved ranges are never fetched.
"""

from __future__ import annotations

import ipaddress
import re
import socket

PRIVATE_HINT = "set ALLOW_PRIVATE_URLS=true to allow intranet addresses"
LINK_LOCAL_HINT = "cloud metadata lives there; only ALLOW_LINK_LOCAL_URLS=true opens it"

# kind -> networks. "loopback" and "private" open with ALLOW_PRIVATE_URLS, "link-local" with ALLOW_LINK_LOCAL_URLS,
# the rest never. IPv4 inside IPv6 is decoded first (_embedded_ipv4), so 2002::/16 etc. are not listed here.
DENIED: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # RFC 1918, carrier-grade NAT
        "fc00::/7",
        "fec0::/10",
    ),  # unique local, site-local
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "unspecified": ("0.0.0.0/8", "::/128"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    "reserved": (
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    ),
}
_NETWORKS = [(kind, ipaddress.ip_network(net)) for kind, nets in DENIED.items() for net in nets]
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_COMPAT = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through (mapped, 6to4, Teredo client, NAT64, compatible)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64) or (ip in _COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP literal as the C resolver reads it (2130706433, 0177.0.0.1 and 127.1 included), or None for a name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _LEGACY_V4.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def address_kind(address: str) -> tuple[str, str] | None:
    """(kind, how to say the address) for a denied address, None for a public one."""
    ip = parse_address(address)
    if ip is None:
        return "invalid", f"{address} is not an IP address"
    shown = address
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:  # 2002:a9fe:a9fe:: reaches 169.254.169.254
            ip, shown = inner, f"{address} ({inner})"
    elif str(ip) != address:
        shown = f"{address} ({ip})"
    for kind, net in _NETWORKS:
        if ip.version == net.version and ip in net:
            return kind, shown
    return None


def address_problem(address: str, *, allow_private: bool = False, allow_link_local: bool = False) -> str | None:
    """Why an address may not be fetched under these switches (None when it may)."""
    found = address_kind(address)
    if found is None:
        return None
    kind, shown = found
    if (kind in ("loopback", "private") and allow_private) or (kind == "link-local" and allow_link_local):
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{shown} is {article} {kind} address"


def hint(problem: str) -> str:
    """What a refusal adds after the problem: which switch opens the address, if any."""
    if " is a link-local " in problem:
        return LINK_LOCAL_HINT
    if " is a loopback " in problem or " is a private " in problem:
        return PRIVATE_HINT
    return "never fetched, whatever the settings"
