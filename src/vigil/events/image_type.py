"""StackTach's image type bit field: image kind, OS type and distribution of an instance's image."""

from __future__ import annotations

from typing import Any

BASE_IMAGE = 0x1
SNAPSHOT_IMAGE = 0x2
IMPORT_IMAGE = 0x3
LINUX_IMAGE = 0x10
WINDOWS_IMAGE = 0x20
FREEBSD_IMAGE = 0x40
OS_UBUNTU = 0x100
OS_DEBIAN = 0x200
OS_CENTOS = 0x400
OS_RHEL = 0x800

_IMAGE = {"base": BASE_IMAGE, "snapshot": SNAPSHOT_IMAGE, "import": IMPORT_IMAGE}
_OS_TYPE = {"linux": LINUX_IMAGE, "windows": WINDOWS_IMAGE, "freebsd": FREEBSD_IMAGE}
_DISTRO = {"ubuntu": OS_UBUNTU, "debian": OS_DEBIAN, "centos": OS_CENTOS, "rhel": OS_RHEL}


def isset(num: int, flag: int) -> bool:
    return bool(num) and num & flag > 0


def numeric_code(payload: dict[str, Any]) -> int:
    """The bits for a payload's `image_meta` (image_type, os_type, os_distro); os_type may also sit in
    the payload itself."""
    meta = payload.get("image_meta")
    if not isinstance(meta, dict):
        meta = {}
    num = _IMAGE.get(_text(meta.get("image_type")), 0)
    num |= _OS_TYPE.get(_text(meta.get("os_type", payload.get("os_type"))), 0)
    num |= _DISTRO.get(_text(meta.get("os_distro")), 0)
    return num


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
