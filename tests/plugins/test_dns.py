"""dns: DNS_SERVER/SEARCH_DOMAIN for systemd-resolved, resolvconf and a plain resolv.conf."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRoot, FakeRunner, client_config

from ltsp_client.config.model import Config
from ltsp_client.pluginkit import PluginContext
from ltsp_client.plugins.dns import Dns
from ltsp_client.plugins.hosts import GENERATED

SCHOOL = '[clients]\nDNS_SERVER="10.0.0.53 10.0.0.54"\nSEARCH_DOMAIN=school.lan\n'


def context(root: FakeRoot, config: Config, exports: dict[str, str] | None = None) -> PluginContext:
    exports = exports or {}
    return PluginContext(
        root.path, config.with_values(exports), FACTS, FakeRunner(), exports=dict(exports)
    )


def apply(root: FakeRoot, config: Config, exports: dict[str, str] | None = None) -> bool:
    ctx = context(root, config, exports)
    if not Dns().applies(ctx):
        return False
    Dns().apply(ctx)
    assert ctx.runner.calls == []  # type: ignore[attr-defined]
    return True


def test_systemd_resolved_gets_a_dropin(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "systemd-resolved"))
    before = root.tree()
    assert apply(root, client_config(tmp_path, SCHOOL))
    assert root.changes_since(before) == {
        "etc/systemd/resolved.conf.d/ltsp.conf": GENERATED
        + "[Resolve]\nDNS=10.0.0.53 10.0.0.54\nDomains=school.lan\n"
    }


def test_resolvconf_gets_its_base_file(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("resolvconf"))
    before = root.tree()
    assert apply(root, client_config(tmp_path, SCHOOL))
    assert root.changes_since(before) == {
        "etc/resolvconf/resolv.conf.d/base": GENERATED
        + "search school.lan\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n"
    }
    assert os.readlink(root.path / "etc/resolv.conf") == "../run/resolvconf/resolv.conf"


def test_openresolv_plain_file(debroot: Callable[..., Path], tmp_path: Path) -> None:
    """openresolv has /sbin/resolvconf but leaves /etc/resolv.conf a file: written directly."""
    root = FakeRoot(debroot("openresolv"))
    root.write("/etc/resolv.conf", "nameserver 192.0.2.1\n")
    before = root.tree()
    assert apply(root, client_config(tmp_path, "[clients]\nDNS_SERVER=10.0.0.53\n"))
    assert root.changes_since(before) == {"etc/resolv.conf": GENERATED + "nameserver 10.0.0.53\n"}


def test_dangling_link_replaced_by_a_plain_file(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    """systemd-resolved removed from an image leaves /etc/resolv.conf dangling."""
    root = FakeRoot(debroot("netbase"))
    root.link("/etc/resolv.conf", "../run/resolvconf/resolv.conf")
    before = root.tree()
    assert apply(root, client_config(tmp_path, SCHOOL))
    assert root.changes_since(before) == {
        "etc/resolv.conf": GENERATED
        + "search school.lan\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n"
    }
    assert not (root.path / "run/resolvconf").exists()


def test_dns_1_uses_the_server_even_over_dhcp(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "systemd-resolved"))
    config = client_config(tmp_path, "[common]\nDNS=1\n")
    assert apply(root, config, {"SERVER": "192.168.67.1", "DNS_SERVER": "10.0.0.53"})
    dropin = root.tree()["etc/systemd/resolved.conf.d/ltsp.conf"]
    assert dropin == GENERATED + "[Resolve]\nDNS=192.168.67.1\n"


def test_not_needed_without_any_dns_server(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "systemd-resolved"))
    assert not apply(root, client_config(tmp_path, "[clients]\nDNS=1\n"))
    assert not apply(root, Config())
