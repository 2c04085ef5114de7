from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ltsp_client.errors import CommandError, LtspError
from ltsp_client.run import Result
from ltsp_client.system import kmod


class FakeModprobe:
    def __init__(self, *, ok: bool) -> None:
        self.ok = ok
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], **kwargs: object) -> Result:
        self.calls.append(tuple(argv))
        if not self.ok:
            raise CommandError("modprobe: FATAL: Module not found")
        return Result(tuple(argv), 0, "", "")


def test_candidates_prefer_ltsp_img_then_the_roots_tree(tmp_path: Path) -> None:
    found = kmod.candidates("overlay", kver="6.1.0-9-amd64", roots=[tmp_path])
    assert found[0] == Path("/usr/lib/ltsp/modules/6.1.0-9-amd64/overlay.ko")
    assert tmp_path / "lib/modules/6.1.0-9-amd64/kernel/fs/overlayfs/overlay.ko.xz" in found
    assert found.index(found[0]) < found.index(
        tmp_path / "lib/modules/6.1.0-9-amd64/kernel/fs/overlayfs/overlay.ko"
    )


def test_listed_filesystem_needs_nothing() -> None:
    fake = FakeModprobe(ok=False)
    fstype = sorted(kmod.filesystems())[0]
    kmod.ensure_filesystem(fstype, runner=fake)
    assert fake.calls == []


def test_missing_filesystem_goes_to_modprobe_with_the_module_name() -> None:
    fake = FakeModprobe(ok=True)
    kmod.ensure_filesystem("no-such-fs-9660", runner=fake)
    assert fake.calls == [("modprobe", "no-such-fs-9660")]
    fake = FakeModprobe(ok=True)
    if "iso9660" not in kmod.filesystems():
        kmod.ensure_filesystem("iso9660", runner=fake)
        assert fake.calls == [("modprobe", "isofs")]


def test_nothing_works_gives_a_hint(tmp_path: Path) -> None:
    with pytest.raises(LtspError) as err:
        kmod.load("no_such_module_x", roots=[tmp_path], runner=FakeModprobe(ok=False))
    assert "ltsp initrd" in err.value.hint


def test_a_bad_ko_file_is_reported(tmp_path: Path) -> None:
    moddir = tmp_path / "lib/modules/9.9.9/kernel"
    moddir.mkdir(parents=True)
    (moddir / "bogus_mod_x.ko").write_bytes(b"not an ELF module")
    with pytest.raises(LtspError, match="cannot load kernel module bogus_mod_x: load"):
        kmod.load("bogus_mod_x", roots=[tmp_path], kver="9.9.9", runner=FakeModprobe(ok=False))


@pytest.mark.parametrize(
    ("machine", "bits", "numbers"),
    [
        ("x86_64", 64, (313, 175)),
        ("x86_64", 32, (350, 128)),  # an i386 userland on an amd64 kernel
        ("i686", 32, (350, 128)),
        ("aarch64", 64, (273, 105)),
        ("aarch64", 32, (379, 128)),  # armhf on an arm64 kernel
        ("armv7l", 32, (379, 128)),
        ("armv6l", 32, (379, 128)),
    ],
)
def test_syscall_numbers_follow_the_abi(machine: str, bits: int, numbers: tuple[int, int]) -> None:
    assert kmod.SYSCALLS[kmod.syscall_abi(machine, bits)] == numbers


def test_an_unknown_architecture_is_an_error_not_a_wrong_syscall(tmp_path: Path) -> None:
    module = tmp_path / "overlay.ko"
    module.write_bytes(b"\x7fELF")
    with pytest.raises(LtspError, match="not supported on riscv64") as caught:
        kmod.load_file(module, machine="riscv64")
    assert "modprobe" in caught.value.hint
