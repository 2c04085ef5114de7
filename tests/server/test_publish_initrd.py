"""ltsp.img's configuration: the server's accounts (never shadow), known hosts, epoptes,
admin plugins; no secret can enter it; no binary when every image carries the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from initramfs_reader import read_image

from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.server import initrd, publish

PASSWD = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"


@pytest.fixture
def server(tmp_path: Path) -> dict[str, Path]:
    hooks = tmp_path / "hooks"
    (hooks / "initramfs-tools").mkdir(parents=True)
    (hooks / "initramfs-tools/ltsp.conf").write_text("ltsp_hook=1\n")
    etc = tmp_path / "etc"
    (etc / "ssh").mkdir(parents=True)
    (etc / "epoptes").mkdir()
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text("root:x:0:\nalice:x:1000:\n")
    (etc / "shadow").write_text("root:$6$salt$hash:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\n")
    (etc / "ssh/ssh_host_ed25519_key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (etc / "ssh/ssh_host_ed25519_key.pub").write_text("ssh-ed25519 AAAAC3 root@server\n")
    (etc / "ssh/ssh_host_rsa_key.pub").write_text("ssh-rsa AAAAB3 root@server\n")
    (etc / "epoptes/server.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (etc / "epoptes/server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    ltsp = tmp_path / "etc-ltsp"
    (ltsp / "plugins").mkdir(parents=True)
    (ltsp / "plugins/site.py").write_text("# admin plugin\n")
    (ltsp / "ltsp.conf").write_text("[clients]\nHOSTNAME=pc\n")
    return {
        "hooks": hooks,
        "etc": etc,
        "ltsp": ltsp,
        "base": tmp_path / "base",
        "out": tmp_path / "ltsp.img",
    }


def build(s: dict[str, Path], *, binary_flag: bool = True) -> dict[str, Any]:
    ctx = Context.from_environment("initrd", {"BASE_DIR": str(s["base"])}, environ={})
    args = ["--etc", str(s["ltsp"]), "--hooks-dir", str(s["hooks"])]
    args += ["--server-etc", str(s["etc"]), "--output", str(s["out"])]
    assert initrd.main(ctx, [*args, "--no-binary"] if binary_flag else args) == 0
    segments = read_image(s["out"].read_bytes())
    return {name: entry.data for seg in segments for name, entry in seg.by_name().items()}


def test_server_accounts_known_hosts_epoptes_and_admin_plugins(server: dict[str, Path]) -> None:
    files = build(server)
    assert files["etc/ltsp/passwd"] == PASSWD.encode()
    assert files["etc/ltsp/group"].startswith(b"root:x:0:")
    assert files["etc/ltsp/ssh_known_hosts"] == (
        b"server ssh-ed25519 AAAAC3 root@server\nserver ssh-rsa AAAAB3 root@server\n"
    )
    assert files["etc/ltsp/epoptes.crt"] == b"-----BEGIN CERTIFICATE-----\n"
    assert files["etc/ltsp/plugins/site.py"] == b"# admin plugin\n"
    assert not [n for n in files if "shadow" in n or n.endswith("key")]
    assert not [d for d in files.values() if b"PRIVATE KEY" in d or b"$6$" in d]


def test_the_admins_own_files_win_and_ignore_epoptes(server: dict[str, Path]) -> None:
    (server["ltsp"] / "passwd").write_text("ldapuser:x:5000:5000::/home/l:/bin/sh\n")
    (server["ltsp"] / "ssh_known_hosts").write_text("server ssh-ed25519 ADMIN\n")
    (server["ltsp"] / "ltsp.conf").write_text("[server]\nIGNORE_EPOPTES=1\n")
    files = build(server)
    assert files["etc/ltsp/passwd"].startswith(b"ldapuser:")
    assert files["etc/ltsp/ssh_known_hosts"] == b"server ssh-ed25519 ADMIN\n"
    assert "etc/ltsp/epoptes.crt" not in files


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("shadow", "root:!:19000::::::\n"),
        ("ssh_host_rsa_key", "anything\n"),
        ("client.key", "anything\n"),
        ("bundle.pem", "-----BEGIN RSA PRIVATE KEY-----\nMII...\n"),
        ("passwd", "root:$6$salt$hashhash:0:0:root:/root:/bin/sh\n"),
    ],
)
def test_no_private_key_or_shadow_data_can_enter_ltsp_img(
    server: dict[str, Path], name: str, content: str
) -> None:
    (server["ltsp"] / name).write_text(content)
    with pytest.raises(LtspError, match="refusing to publish secrets") as info:
        build(server)
    assert f"/etc/ltsp/{name}" in str(info.value)
    assert not server["out"].exists()


def test_no_binary_when_every_image_carries_the_client_package(
    server: dict[str, Path], tmp_path: Path
) -> None:
    images = server["base"] / "images"

    def image(package: str) -> Any:
        def write(path: Path) -> dict[str, Any]:
            path.write_bytes(b"sq")
            return {"client_package": package}

        return write

    publish.publish_version(images, "a", image("0.1-1"))
    publish.publish_version(images, "b", image(""))
    assert not initrd.images_carry_client(images)
    publish.publish_version(images, "b", image("0.1-1"))
    assert initrd.images_carry_client(images)
    files = build(server, binary_flag=False)  # no frozen tree needed
    assert "etc/ltsp/passwd" in files and not [n for n in files if n.startswith("usr/lib/ltsp")]
    assert server["out"].stat().st_size < 16 * 1024
