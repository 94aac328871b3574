import datetime

import pytest
from dateparse import parse_date


def test_parses_plain_date():
    assert parse_date("2024-03-15") == datetime.date(2024, 3, 15)


def test_leap_day():
    assert parse_date("2024-02-29") == datetime.date(2024, 2, 29)


def test_rejects_garbage():
    with pytest.raises(ValueError):
        parse_date("15/03/2024")


def test_rejects_impossible_day():
    with pytest.raises(ValueError):
        parse_date("2024-02-30")


def test_rejects_day_31_in_april():
    with pytest.raises(ValueError):
        parse_date("2023-04-31")
