"""lab/services.py without starting anything: the generated dnsmasq, nbd, ganesha, sshd
and iPXE files."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import LabError, services


def test_dnsmasq_full_dhcp_conf_has_leases_boot_script_and_speedups(tmp_path: Path) -> None:
    text = services.dnsmasq_conf(
        mode="dhcp",
        run_dir=tmp_path,
        tftp_root=tmp_path / "tftp",
        hosts={"52:54:00:00:00:01": "192.168.67.11"},
    )
    lines = text.splitlines()
    assert "dhcp-range=192.168.67.100,192.168.67.199,255.255.255.0,1h" in lines
    assert "dhcp-boot=tag:ipxe,boot.ipxe" in lines
    assert 'pxe-service=tag:ipxe,X86PC,"boot.ipxe",boot.ipxe' in lines
    assert "no-ping" in lines and "enable-ra" in lines and "port=0" in lines
    assert "dhcp-host=52:54:00:00:00:01,192.168.67.11" in lines
    assert f"pid-file={tmp_path}/dnsmasq.pid" in lines
    assert not any("proxy" in line for line in lines)


def test_dnsmasq_proxy_conf_gives_no_leases(tmp_path: Path) -> None:
    lines = services.dnsmasq_conf(mode="proxy", run_dir=tmp_path, tftp_root=tmp_path).splitlines()
    assert "dhcp-range=192.168.67.0,proxy,255.255.255.0" in lines
    assert "dhcp-authoritative" not in lines
    assert not any(line.startswith("dhcp-boot=") for line in lines)
    assert any(line.startswith("pxe-service=tag:!ipxe") for line in lines)


def test_dnsmasq_rejects_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(LabError):
        services.dnsmasq_conf(mode="relay", run_dir=tmp_path, tftp_root=tmp_path)


def test_dnsmasq_wrap_keeps_the_given_file_and_adds_namespace_lines(tmp_path: Path) -> None:
    lines = services.dnsmasq_wrap_conf(generated=tmp_path / "g.conf", run_dir=tmp_path).splitlines()
    assert lines[1] == f"conf-file={tmp_path}/g.conf"
    assert "interface=br0" in lines and "bind-interfaces" in lines


def test_nbd_conf_lists_read_only_exports() -> None:
    text = services.nbd_conf({"lab": Path("/x/lab.squashfs"), "b": Path("/y")})
    assert "[lab]\n    exportname = /x/lab.squashfs\n    readonly = true" in text
    assert "listenaddr = 192.168.67.1" in text and "[b]" in text


def test_ganesha_conf_exports_each_path_v3_read_only(tmp_path: Path) -> None:
    text = services.ganesha_conf([Path("/srv/a"), Path("/srv/b")], run_dir=tmp_path)
    assert text.count("EXPORT {") == 2
    assert "Path = /srv/a;" in text and "Export_Id = 2;" in text
    assert "Protocols = 3;" in text and "Access_Type = RO;" in text
    assert f"RecoveryRoot = {tmp_path}/recovery;" in text


def test_nfs_wrapper_keeps_rpcbind_files_in_a_private_run(tmp_path: Path) -> None:
    text = services.nfs_wrapper_script(conf=tmp_path / "g.conf", run_dir=tmp_path)
    assert text.index("mount -t tmpfs") < text.index("rpcbind -f")
    assert text.splitlines()[-1].startswith("exec ganesha.nfsd -F")


def test_sshd_conf_listens_on_the_server_only(tmp_path: Path) -> None:
    text = services.sshd_conf(run_dir=tmp_path)
    assert "ListenAddress 192.168.67.1:22" in text
    assert f"HostKey {tmp_path}/ssh_host_ed25519_key" in text
    assert "Subsystem sftp internal-sftp" in text


def test_ipxe_script_and_per_mac_name() -> None:
    text = services.ipxe_script(
        kernel_url="http://192.168.67.1:8080/vmlinuz",
        initrd_urls=["http://192.168.67.1:8080/ltsp.img", "http://192.168.67.1:8080/initrd.img"],
        append="root=/dev/nbd0",
    )
    assert text.splitlines() == [
        "#!ipxe",
        "kernel http://192.168.67.1:8080/vmlinuz initrd=ltsp.img initrd=initrd.img root=/dev/nbd0",
        "initrd http://192.168.67.1:8080/ltsp.img",
        "initrd http://192.168.67.1:8080/initrd.img",
        "boot",
    ]
    assert services.mac_script_name("52:54:00:AB:00:01") == "mac-52-54-00-ab-00-01.ipxe"
    assert "mac-${net0/mac:hexhyp}.ipxe" in services.BOOT_IPXE
