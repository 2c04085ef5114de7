"""Where an LTSP server's publication lives (upstream's layout, which ours keeps; spec §1.1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """BASE_DIR and TFTP_DIR of one publication, and the paths of one image in them."""

    base_dir: Path
    tftp_dir: Path
    image_name: str

    @property
    def image(self) -> Path:
        """BASE_DIR/images/NAME.img (ours: a symlink to the serving version)."""
        return self.base_dir / "images" / f"{self.image_name}.img"

    @property
    def kernel(self) -> Path:
        return self.tftp_dir / "ltsp" / self.image_name / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.tftp_dir / "ltsp" / self.image_name / "initrd.img"

    @property
    def ltsp_img(self) -> Path:
        return self.tftp_dir / "ltsp" / "ltsp.img"

    @property
    def ipxe_script(self) -> Path:
        return self.tftp_dir / "ltsp" / "ltsp.ipxe"
