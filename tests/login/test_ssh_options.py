"""The ssh options `ltsp login` passes, as the real ssh resolves them (`ssh -G`)."""

from __future__ import annotations

import subprocess

from ltsp_client.login.ssh import Server


def resolved(server: Server) -> dict[str, str]:
    """ssh's effective configuration for these options (no connection is made)."""
    out = subprocess.run(
        ["ssh", "-G", *server.ssh_options(), "user@server.example"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_slow_pq_kex_dropped_host_key_still_checked() -> None:
    config = resolved(Server("server.example", "/etc/ltsp/ssh_known_hosts"))
    kex = config["kexalgorithms"].split(",")
    assert "curve25519-sha256" in kex
    assert not any(name.startswith("sntrup") for name in kex)
    assert config["stricthostkeychecking"] == "true"
    assert config["userknownhostsfile"] == "/etc/ltsp/ssh_known_hosts"
    assert config["globalknownhostsfile"] == "/dev/null"


def test_ssh_options_override_the_kex_choice() -> None:
    wanted = "sntrup761x25519-sha512@openssh.com,curve25519-sha256"
    server = Server("server.example", "/k", ("-p", "2222", "-o", f"KexAlgorithms={wanted}"))
    config = resolved(server)
    assert config["kexalgorithms"] == wanted
    assert config["port"] == "2222"
