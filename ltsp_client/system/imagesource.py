"""The image-source chain syntax (§1.6.1): `path[,opts][,,path[,opts]]...`.

Leading `fstype=`, `partition=` and `subdir=` options are ours; from the
first other option on, the rest is a plain mount option string.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltsp_client.errors import LtspError

_SPECIAL = ("fstype", "partition", "subdir")


@dataclass(frozen=True)
class Element:
    path: str
    fstype: str = ""
    partition: int | None = None
    subdir: str = ""
    options: str = ""

    def render(self) -> str:
        parts = [self.path]
        if self.fstype:
            parts.append(f"fstype={self.fstype}")
        if self.partition is not None:
            parts.append(f"partition={self.partition}")
        if self.subdir:
            parts.append(f"subdir={self.subdir}")
        if self.options:
            parts.append(self.options)
        return ",".join(parts)


def parse_element(text: str) -> Element:
    path, *options = text.split(",")
    if not path:
        raise LtspError(f"empty path in image source element {text!r}")
    special: dict[str, str] = {}
    while options:
        key, eq, value = options[0].partition("=")
        if not eq or key not in _SPECIAL:
            break
        special[key] = value
        options.pop(0)
    partition = None
    if "partition" in special:
        try:
            partition = int(special["partition"])
        except ValueError:
            raise LtspError(
                f"partition={special['partition']} is not a number in {text!r}",
                hint="partitions are numbered from 1, e.g. vm-flat.vmdk,partition=1",
            ) from None
    return Element(
        path=path,
        fstype=special.get("fstype", ""),
        partition=partition,
        subdir=special.get("subdir", "").strip("/"),
        options=",".join(options),
    )


def parse_chain(text: str) -> tuple[Element, ...]:
    text = text.strip()
    if not text:
        raise LtspError("the image source is empty", hint="set ltsp.image= or IMAGE=")
    return tuple(parse_element(part) for part in text.split(",,"))


def render_chain(elements: tuple[Element, ...]) -> str:
    return ",,".join(e.render() for e in elements)
