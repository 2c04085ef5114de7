from __future__ import annotations

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system.imagesource import Element, parse_chain, render_chain


def test_special_options_first_then_mount_options() -> None:
    chain = parse_chain(
        "ltsp/ubuntu.iso,fstype=iso9660,loop,ro,,casper/filesystem.squashfs,fstype=squashfs,loop,ro"
    )
    assert chain == (
        Element("ltsp/ubuntu.iso", fstype="iso9660", options="loop,ro"),
        Element("casper/filesystem.squashfs", fstype="squashfs", options="loop,ro"),
    )


def test_special_options_after_a_plain_option_are_mount_options() -> None:
    (element,) = parse_chain("x.img,ro,subdir=boot")
    assert element == Element("x.img", options="ro,subdir=boot")


def test_subdir_and_partition() -> None:
    assert parse_chain("/,,/boot,subdir=boot,,/opt,subdir=opt") == (
        Element("/"),
        Element("/boot", subdir="boot"),
        Element("/opt", subdir="opt"),
    )
    assert parse_chain("/path/vm-flat.vmdk,partition=1") == (
        Element("/path/vm-flat.vmdk", partition=1),
    )


def test_round_trip() -> None:
    text = "/a.iso,fstype=iso9660,partition=2,subdir=x,ro,,b.img"
    assert render_chain(parse_chain(text)) == text


@pytest.mark.parametrize("bad", ["", ",ro", "x,partition=one"])
def test_errors(bad: str) -> None:
    with pytest.raises(LtspError):
        parse_chain(bad)
