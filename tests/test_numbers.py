"""The one number format of the reports, the site and the notebooks (experiments/reporting/
numbers.py): significant digits, thousands separators, never scientific notation."""

from __future__ import annotations

import math

import pytest

from experiments.reporting import numbers


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "SESH", "–"),
        (math.nan, "SESH", "–"),
        (math.inf, "USD", "–"),
        (0.0, "SESH", "0"),
        (63_177_550.4, "SESH", "63.2M"),
        (999_999_999.0, "SESH", "1.00B"),  # rounds up into the next scale, never "1,000M"
        (3.6e18, "USD/SESH", "3,600,000T"),  # past the last scale: separators, no exponent
        (54_462.7, "SESH", "54.5k"),
        (999.6, "SESH", "1.00k"),
        (999.4, "SESH", "999"),
        (12.345, "USD/day", "12.3"),
        (-1.77, "USD/day", "\u22121.77"),
        (0.13318, "USD/SESH", "0.133"),
        (9.57e-05, "USD/SESH", "0.0000957"),
        (1.8e-06, "SESH", "0.00000180"),
        (0.151, "1/year", "15.1%"),
        (0.4, "share of runs", "40.0%"),
        (1.0, "share", "100%"),
        (428.9, "day", "429"),
        (1333.2, "nodes", "1,333"),
    ],
)
def test_format_value(value, unit, text):
    assert numbers.format_value(value, unit) == text


def test_no_scientific_notation_at_any_size():
    for exponent in range(-12, 22):
        for mantissa in (1.0, 2.345, 9.9996):
            for sign in (1, -1):
                text = numbers.format_value(sign * mantissa * 10.0**exponent, "SESH")
                assert "e" not in text.lower(), text


def test_counts_are_whole():
    assert numbers.format_value(20, count=True) == "20"
    assert numbers.format_value(12_345.4, count=True) == "12,345"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (2_312_345.0, "SESH", "+2.31M"),
        (-24_600_000.0, "SESH", "\u221224.6M"),
        (-11.03, "day", "\u221211"),
        (-0.0805, "share", "\u22128.05"),
        (0.0, "SESH", "0"),
        (-0.0, "share", "0"),
        (math.nan, "SESH", "–"),
    ],
)
def test_format_difference(value, unit, text):
    assert numbers.format_difference(value, unit) == text


@pytest.mark.parametrize(
    ("value", "unit", "difference", "text"),
    [
        (2_312_345.0, "SESH", True, "+2.31M SESH"),
        (0.1012, "USD/SESH", False, "$0.101 per SESH"),
        (-0.42, "USD/day", True, "\u2212$0.420 a day"),
        (0.96, "share", False, "96.0%"),
        (0.1, "share of runs", True, "+10.0 pp"),
        (-43.2, "day", True, "\u221243 days"),
        (1333, "nodes", False, "1,333 nodes"),
    ],
)
def test_quantity_names_the_unit(value, unit, difference, text):
    assert numbers.quantity(value, unit, difference=difference) == text


def test_short_quantity_keeps_only_the_signs():
    assert numbers.quantity(0.00624, "USD/SESH", short=True) == "$0.00624"
    assert numbers.quantity(0.028, "USD/day", difference=True, short=True) == "+$0.0280"
    assert numbers.quantity(-0.42, "USD/day", difference=True, short=True) == "\u2212$0.420"
    assert numbers.quantity(2_160_000, "SESH", difference=True, short=True) == "+2.16M"
    assert numbers.quantity(0.412, "share", short=True) == "41.2%"


def test_negative_numbers_have_a_true_minus():
    assert numbers.format_value(-0.124, "USD/day") == "\u22120.124"
    assert numbers.quantity(-0.124, "USD/day", short=True) == "\u2212$0.124"
    assert numbers.format_value(-5, "nodes") == "\u22125"
