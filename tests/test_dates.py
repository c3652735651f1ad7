"""index.dates: pure, so plain strings in and out."""

import pytest

from index.dates import date_range, parse_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-14T10:00:00Z", "2025-03-14"),
        ("2025-03-14T23:30:00-05:00", "2025-03-14"),
        ("2025-03-14", "2025-03-14"),
        ("14/03/2025", "2025-03-14"),
        ("14.03.2025", "2025-03-14"),
        ("03/14/2025", "2025-03-14"),  # month-first only because unambiguous
        ("2025-03", "2025-03"),
        ("2025", "2025"),
        ("20250314", "2025-03-14"),
        ("03/2025", "2025-03"),
        ("mars 2025", "2025-03"),
        ("14 mars 2025", "2025-03-14"),
        ("1er février 2024", "2024-02-01"),
        ("vendredi 14 mars 2025 à 10h00", "2025-03-14"),
        ("14 Août 2020", "2020-08-14"),
        ("déc. 2019", "2019-12"),
        ("March 14, 2025", "2025-03-14"),
        ("Fri, 14 Mar 2025 10:00:00 +0000", "2025-03-14"),
        ("  2020-07-02T19:09 ", "2020-07-02"),
        ("2025-02-30", None),
        ("2025-13", None),
        ("31/31/2025", None),
        ("hier", None),
        ("", None),
        ("14 brumaire 2025", None),
        ("2025-03-14 et des poussières", None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_date_range():
    assert date_range("2025-03") == (20250301, 20250331)
    assert date_range("2025") == (20250101, 20251231)
    assert date_range("2025-03-14") == (20250314, 20250314)
    assert date_range("2024-02") == (20240201, 20240229)
    assert date_range("2023-02") == (20230201, 20230228)
    assert date_range(None) is None
    assert date_range("14/03/2025") is None
    assert date_range("2025-13") is None


def test_parse_date_takes_only_strings_and_ints():
    assert parse_date(2025) == "2025"
    assert parse_date(None) is None
    assert parse_date(True) is None
    assert parse_date(["2025"]) is None
