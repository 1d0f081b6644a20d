"""Who may reach the UI: the rules `omnidex serve` and the browser pages both apply.

Anyone who reaches the UI can search, read and index the server's files, so a UI that other machines
can reach asks for the password first (compared in constant time), and answers only to host names it knows
(a page on another site cannot rebind its own name to this server: server.allowedHosts).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket

from core.config import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PASSWORD_HOWTO = ("Set a password first, e.g. `OMNIDEX_UI_PASSWORD='a long passphrase' omnidex serve --address "
                  "0.0.0.0` (or ui_password in omnidex.toml), or serve on this machine only with "
                  "`--address 127.0.0.1`.")


def is_loopback(address: str | None) -> bool:
    """Whether only this machine can reach an address the server listens on (unset: every interface)."""
    if not address:
        return False
    if address.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:  # a host name: whatever it resolves to may be reachable
        return False


def configured_password(settings: Settings) -> str:
    """The password the UI asks for; empty when none is set."""
    return settings.ui_password.get_secret_value() if settings.ui_password else ""


def password_matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def allowed_hosts(address: str, extra: list[str]) -> list[str]:
    """The Host header values the UI answers to when listening on `address`: the loopback names, the address
    itself, and for every interface (0.0.0.0, ::) this machine's names and addresses; `extra` adds a proxy's name."""
    hosts = [*LOOPBACK_NAMES]
    if address and not is_loopback(address):
        hosts.append(address.strip("[]"))
        if address.strip("[]") in ("0.0.0.0", "::"):
            hosts += _machine_names_and_addresses()
    hosts += extra
    return list(dict.fromkeys(h.lower() for h in hosts if h and h not in ("0.0.0.0", "::")))


def _machine_names_and_addresses() -> list[str]:
    import psutil

    names = [socket.gethostname(), socket.getfqdn()]
    names += [f"{name}.local" for name in names if "." not in name and name != "localhost"]
    addresses = [a.address.split("%")[0] for nic in psutil.net_if_addrs().values() for a in nic
                 if a.family in (socket.AF_INET, socket.AF_INET6)]
    return names + addresses
