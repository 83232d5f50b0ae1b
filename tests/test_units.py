"""Quantities, durations, clock times and Kubernetes names: what parses, what is refused, and
the hint a person gets when they write one the way people say it."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from campushub.units import (
    check_dns_name,
    check_label_key,
    check_label_value,
    format_cpu,
    format_duration,
    format_memory,
    parse_clock,
    parse_cpu,
    parse_duration,
    parse_memory,
    show,
)

Ki, Mi, Gi, Ti = 2**10, 2**20, 2**30, 2**40

# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "n_bytes"),
    [
        ("512Mi", 512 * Mi),
        ("1Gi", Gi),
        ("64Gi", 64 * Gi),
        ("1.5Gi", 3 * 512 * Mi),
        ("1Ti", Ti),
        ("4Ki", 4 * Ki),
        ("2G", 2 * 10**9),
        ("100k", 100_000),
        ("5M", 5_000_000),
        ("1073741824", Gi),
        ("0", 0),
        (Gi, Gi),
        (0, 0),
        (2.0 * Gi, 2 * Gi),
    ],
)
def test_parse_memory_reads_kubernetes_quantities_as_bytes(written: object, n_bytes: int) -> None:
    assert parse_memory(written) == n_bytes
    assert isinstance(parse_memory(written), int)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("1 GB", "'1 GB' is not a quantity (try 1Gi)"),
        ("1GB", "'1GB' is not a quantity (try 1Gi)"),
        ("512mb", "'512mb' is not a quantity (try 512Mi)"),
        ("512MB", "'512MB' is not a quantity (try 512Mi)"),
        ("512m", "'512m' is not a quantity (try 512Mi)"),  # milli-bytes in Kubernetes
        ("2g", "'2g' is not a quantity (try 2Gi)"),
        ("1gib", "'1gib' is not a quantity (try 1Gi)"),
        ("1 Gi", "'1 Gi' is not a quantity (try 1Gi)"),
        ("1.5 GB", "'1.5 GB' is not a quantity (try 1.5Gi)"),
        ("2TB", "'2TB' is not a quantity (try 2Ti)"),
        ("100kb", "'100kb' is not a quantity (try 100Ki)"),
        ("lots", "'lots' is not a quantity (try 1Gi or 512Mi)"),
        ("-1Gi", "'-1Gi' is not a quantity (try 1Gi or 512Mi)"),
        ("", "'' is not a quantity (try 1Gi or 512Mi)"),
        (" 1Gi", "' 1Gi' is not a quantity (try 1Gi)"),
        (None, "an empty value is not a quantity (try 1Gi)"),
        (True, "true is not a quantity (try 1Gi)"),
        (["1Gi"], "['1Gi'] is not a quantity (try 1Gi)"),
        (-1, "-1 is not a whole, non-negative number of bytes"),
        (1.5, "1.5 is not a whole, non-negative number of bytes"),
        (float("inf"), "inf is not a whole, non-negative number of bytes"),
        (float("nan"), "nan is not a whole, non-negative number of bytes"),
        ("0.5", "'0.5' is not a whole number of bytes"),
        ("9" * 400, "'" + "9" * 56 + "... is too large to be a quantity"),
    ],
)
def test_parse_memory_refuses_with_a_hint(written: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_memory(written)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("n_bytes", "written"),
    [
        (Gi, "1Gi"),
        (512 * Mi, "512Mi"),
        (3 * 512 * Mi, "1536Mi"),
        (64 * Gi, "64Gi"),
        (2 * Ti, "2Ti"),
        (4 * Ki, "4Ki"),
        (1_500_000, "1500000"),
        (0, "0"),
    ],
)
def test_format_memory_uses_the_largest_exact_binary_suffix(n_bytes: int, written: str) -> None:
    assert format_memory(n_bytes) == written
    assert parse_memory(written) == n_bytes


# ---------------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "cores"),
    [("2", 2.0), (2, 2.0), ("0.5", 0.5), (0.5, 0.5), ("500m", 0.5), ("50m", 0.05), (".25", 0.25)],
)
def test_parse_cpu_reads_cores_and_millicores(written: object, cores: float) -> None:
    assert parse_cpu(written) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("2 cores", "'2 cores' is not a CPU quantity (try 0.5 or 500m)"),
        ("500M", "'500M' is not a CPU quantity (try 0.5 or 500m)"),
        ("1Gi", "'1Gi' is not a CPU quantity (try 0.5 or 500m)"),
        (None, "an empty value is not a CPU quantity (try 0.5 or 500m)"),
        (False, "false is not a CPU quantity (try 0.5 or 500m)"),
        (-1, "-1 is negative"),
        (float("inf"), "inf is not a plausible number of cores (try 0.5 or 500m)"),
    ],
)
def test_parse_cpu_refuses_with_a_hint(written: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_cpu(written)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("cores", "written"),
    [(2.0, "2"), (8, "8"), (0.5, "500m"), (0.05, "50m"), (0.1, "100m"), (1.5, "1.5"), (0.0, "0")],
)
def test_format_cpu_writes_whole_cores_or_millicores(cores: float, written: str) -> None:
    assert format_cpu(cores) == written
    assert parse_cpu(written) == pytest.approx(cores)


# ---------------------------------------------------------------------------------------------
# Durations and clock times
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "duration"),
    [
        ("50m", timedelta(minutes=50)),
        ("3h", timedelta(hours=3)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("1h20m15s", timedelta(hours=1, minutes=20, seconds=15)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration_reads_hours_minutes_seconds(written: str, duration: timedelta) -> None:
    assert parse_duration(written) == duration


@pytest.mark.parametrize(
    "written", ["", "50", 50, "50 minutes", "20min", "1d", "30m1h", "h", "1H", "1.5h", None]
)
def test_parse_duration_refuses_anything_else_with_examples(written: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration \(try 50m, 3h or 1h30m\)$"):
        parse_duration(written)


@pytest.mark.parametrize(
    ("duration", "written"),
    [
        (timedelta(minutes=50), "50m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(0), "0m"),
    ],
)
def test_format_duration_writes_the_catalog_form(duration: timedelta, written: str) -> None:
    assert format_duration(duration) == written
    assert parse_duration(written) == duration


@pytest.mark.parametrize(
    ("written", "clock"),
    [("10:00", time(10, 0)), ("8:05", time(8, 5)), ("00:00", time(0, 0)), ("23:59", time(23, 59))],
)
def test_parse_clock_reads_24_hour_times(written: str, clock: time) -> None:
    assert parse_clock(written) == clock


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("24:00", "'24:00'"),
        ("10:60", "'10:60'"),
        ("10:00:00", "'10:00:00'"),
        ("10", "'10'"),
        (600, "600"),  # what YAML 1.1 makes of 10:00
        ("10.30", "'10.30'"),
        ("10:0", "'10:0'"),
        ("2pm", "'2pm'"),
        (None, "an empty value"),
    ],
)
def test_parse_clock_refuses_with_examples(written: object, shown: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_clock(written)
    assert str(raised.value) == f'{shown} is not a time of day (try "10:00" or "14:30")'


# ---------------------------------------------------------------------------------------------
# Kubernetes names and labels
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "a", "data8", "2026-fall", "a_b.c-d", "A1", "x" * 63])
def test_check_label_value_accepts_kubernetes_label_values(value: str) -> None:
    check_label_value(value)


@pytest.mark.parametrize("value", ["a b", "-a", "a-", ".a", "a_", "x" * 64, "daten/satz", "ä"])
def test_check_label_value_refuses_and_says_what_is_allowed(value: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Kubernetes label value") as raised:
        check_label_value(value)
    assert "at most 63 letters, digits, '-', '_' or '.'" in str(raised.value)


@pytest.mark.parametrize(
    "key", ["app", "hub.jupyter.org/pool-name", "example.com/Zone_1", "node-role"]
)
def test_check_label_key_accepts_names_with_optional_dns_prefix(key: str) -> None:
    check_label_key(key)


@pytest.mark.parametrize(
    "key", ["", "/x", "Hub.Jupyter.org/x", "a/b/c", "hub.jupyter.org/", "bad key", "x" * 64]
)
def test_check_label_key_refuses_bad_prefixes_and_names(key: str) -> None:
    with pytest.raises(ValueError, match=r"Kubernetes label key|prefix that is not a DNS"):
        check_label_key(key)


@pytest.mark.parametrize("name", ["a", "standard-placeholder", "data8-shared", "x" * 63])
def test_check_dns_name_accepts_rfc1123_labels(name: str) -> None:
    check_dns_name(name)


@pytest.mark.parametrize("name", ["", "Data8", "data_8", "-a", "a-", "a.b", "x" * 64])
def test_check_dns_name_refuses_and_says_what_is_allowed(name: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Kubernetes name") as raised:
        check_dns_name(name)
    assert "lowercase letters, digits and '-'" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Showing values in messages
# ---------------------------------------------------------------------------------------------


def test_show_writes_values_as_a_catalog_author_would() -> None:
    assert show("1 GB") == "'1 GB'"
    assert show(None) == "an empty value"
    assert (show(True), show(False)) == ("true", "false")
    assert show([1, 2]) == "[1, 2]"


def test_show_cuts_long_values_short() -> None:
    shown = show("x" * 1000)
    assert len(shown) == 60
    assert shown.endswith("...")
    assert len(show("x" * 1000, width=20)) == 20
