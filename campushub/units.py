"""Kubernetes quantities, durations, clock times and names: parse, check and format.

Pure functions with no JupyterHub, tornado or Kubernetes imports. Each parser raises
``ValueError`` with a message meant for a person, naming the bad text and, where a likely
intended value exists, suggesting it.
"""

from __future__ import annotations

import math
import re
from datetime import time, timedelta

# Binary and decimal suffixes as Kubernetes defines them (resource.Quantity).
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^(?P<number>\d+(?:\.\d+)?|\.\d+)(?P<suffix>[A-Za-z]*)$")

# What people write by habit, mapped to the quantity they most likely mean.
_MEMORY_HINTS = {
    "b": "",
    "k": "Ki",
    "ki": "Ki",
    "kb": "Ki",
    "kib": "Ki",
    "m": "Mi",
    "mi": "Mi",
    "mb": "Mi",
    "mib": "Mi",
    "g": "Gi",
    "gi": "Gi",
    "gb": "Gi",
    "gib": "Gi",
    "t": "Ti",
    "ti": "Ti",
    "tb": "Ti",
    "tib": "Ti",
}


def show(value: object, width: int = 60) -> str:
    """``repr(value)`` as a catalog author wrote it (``true``, not ``True``), cut short so a
    hostile or mistaken value cannot flood a message."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_MAX_BYTES = 2**60  # an exbibyte: far beyond any node, well inside float and int64
_MAX_CORES = 100_000


def parse_memory(value: object) -> int:
    """Return a memory quantity (``512Mi``, ``1Gi``, ``2G``, ``1073741824``) in bytes."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{show(value)} is not a quantity (try 1Gi)")
    if isinstance(value, int | float):
        if math.isfinite(value) and abs(value) > _MAX_BYTES:
            raise ValueError(f"{show(value)} bytes is implausibly large")
        # A YAML float such as 1e400 is infinite; int() of it would raise OverflowError.
        if value < 0 or not math.isfinite(value) or value != int(value):
            raise ValueError(f"{show(value)} is not a whole, non-negative number of bytes")
        return int(value)
    text = value.strip()
    match = _QUANTITY.match(text) if text == value else None
    suffix = match.group("suffix") if match else ""
    if match and (suffix in _BINARY or suffix in _DECIMAL or suffix == ""):
        multiplier = _BINARY.get(suffix) or _DECIMAL.get(suffix) or 1
        number = float(match.group("number")) * multiplier
        if not math.isfinite(number) or number > _MAX_BYTES:
            raise ValueError(f"{show(value)} is too large to be a quantity")
        if number != int(number):
            raise ValueError(f"{show(value)} is not a whole number of bytes")
        return int(number)
    raise ValueError(f"{show(value)} is not a quantity{_memory_hint(value)}")


def _memory_hint(value: str) -> str:
    squeezed = value.replace(" ", "")
    match = _QUANTITY.match(squeezed)
    if match:
        hint = _MEMORY_HINTS.get(match.group("suffix").lower())
        if hint is not None:
            return f" (try {match.group('number')}{hint})"
    return " (try 1Gi or 512Mi)"


def parse_cpu(value: object) -> float:
    """Return a CPU quantity (``2``, ``0.5``, ``500m``) in cores."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{show(value)} is not a CPU quantity (try 0.5 or 500m)")
    if isinstance(value, int | float):
        if math.isfinite(value) and abs(value) > _MAX_CORES:
            raise ValueError(f"{show(value)} cores is implausibly many")
        cores = float(value)
    else:
        match = _QUANTITY.match(value)
        if not match or match.group("suffix") not in ("", "m"):
            raise ValueError(f"{show(value)} is not a CPU quantity (try 0.5 or 500m)")
        cores = float(match.group("number"))
        if match.group("suffix") == "m":
            cores /= 1000
    if cores < 0:
        raise ValueError(f"{show(value)} is negative")
    if not math.isfinite(cores) or cores > _MAX_CORES:
        raise ValueError(f"{show(value)} is not a plausible number of cores (try 0.5 or 500m)")
    return cores


def format_memory(n_bytes: int) -> str:
    """Format bytes the way Kubernetes people write them: ``1Gi``, ``512Mi``, ``1500000k``."""
    for suffix, size in sorted(_BINARY.items(), key=lambda item: -item[1]):
        if n_bytes and n_bytes % size == 0:
            return f"{n_bytes // size}{suffix}"
    return str(n_bytes)


def format_cpu(cores: float) -> str:
    """Format cores as ``2``, ``0.5`` or ``50m``."""
    if cores == int(cores):
        return str(int(cores))
    millis = cores * 1000
    if cores < 1 and millis == int(millis):
        return f"{int(millis)}m"
    return f"{cores:g}"


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_duration(value: object) -> timedelta:
    """Return a duration written as ``50m``, ``3h``, ``1h30m`` or ``90s``."""
    text = value if isinstance(value, str) else ""
    match = _DURATION.match(text)
    if not text or not match or not any(match.groupdict().values()):
        raise ValueError(f"{show(value)} is not a duration (try 50m, 3h or 1h30m)")
    parts = {unit: int(number or 0) for unit, number in match.groupdict().items()}
    try:
        return timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    except OverflowError:
        raise ValueError(f"{show(value)} is too long to be a duration") from None


def format_duration(duration: timedelta) -> str:
    """Format a duration as ``1h30m``, the way the catalog writes it."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds else "") or "0m"


_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$")


def parse_clock(value: object) -> time:
    """Return a wall-clock time written as ``HH:MM`` (24-hour)."""
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{show(value)} is not a time of day (try "10:00" or "14:30")')
    return time(int(match.group("h")), int(match.group("m")))


# Kubernetes names and labels (apimachinery validation).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def check_label_value(value: str) -> str:
    """Return ``value`` if it is a valid Kubernetes label value, else raise ``ValueError``."""
    if len(value) > 63 or (value and not _LABEL_NAME.match(value)):
        raise ValueError(
            f"{show(value)} is not a valid Kubernetes label value "
            "(at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)"
        )
    return value


def check_label_key(key: str) -> str:
    """Return ``key`` if it is a valid Kubernetes label key (``prefix/name``), else raise
    ``ValueError``."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):  # "/x" too
        raise ValueError(f"{show(key)} has a prefix that is not a DNS subdomain")
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(f"{show(key)} is not a valid Kubernetes label key")
    return key


def check_dns_name(value: str) -> str:
    """Return ``value`` if it can name a Kubernetes object (an RFC 1123 label), else raise
    ``ValueError``."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{show(value)} is not a valid Kubernetes name "
            "(lowercase letters, digits and '-', at most 63, starting and ending alphanumeric)"
        )
    return value
