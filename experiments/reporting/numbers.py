"""One number format for every page and table this project writes.

Three significant digits, never scientific notation: amounts of a thousand and more are scaled
(864k, 63.2M, 1.25B, 4.00T), smaller ones keep three significant digits (133, 0.133, 0.0000957), so
the numbers of one row or interval carry the same precision (+2.10M [+864k, +3.05M]). Shares and rates (units `share`, `share of
runs`, `1/year`) are shown in percent, counts (`day`, `days`, `nodes`, or `count=True`) as whole
numbers. A negative number has a true minus sign (U+2212); differences carry their sign (+ or
minus) and read shares and rates in percentage points. A missing or non-finite value is "–".

`quantity` adds the unit for running text ("2.30M SESH", "$0.101", "54.0%", "650 days").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

DIGITS = 3
PERCENT_UNITS = ("share", "share of runs", "1/year")
COUNT_UNITS = ("day", "days", "nodes")
# Differences of shares and rates are in percentage points.
DIFFERENCE_UNITS = {"share": "pp", "share of runs": "pp", "1/year": "pp/year"}
# Suffixes of scaled amounts (past the last, thousands separators would take over).
SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MISSING = "–"
MINUS = "\u2212"


def finite(value) -> float | None:
    """`value` as a finite float, or None (missing, not a number, a bool, NaN or infinite)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def significant(value: float, digits: int = DIGITS) -> str:
    """`value` to `digits` significant digits as a plain decimal (no exponent), with thousands
    separators: 0.0000957, 12.3, 1,000."""
    if value == 0:
        return "0"
    rounded = Decimal(f"{value:.{digits - 1}e}")
    return format(rounded, ",f")


def _plain(value: float, digits: int = DIGITS) -> str:
    """An amount: scaled from a thousand, else `digits` significant digits."""
    size = abs(value)
    for scale, suffix in SCALES:
        if size >= scale * (1 - 0.5 * 10.0**-digits):  # 999,999,999 is 1.00B, not 1,000M
            return f"{significant(value / scale, digits)}{suffix}"
    return significant(value, digits)


def format_value(value, unit: str = "", count: bool = False) -> str:
    """A number for people, by its unit (see the module docstring); no unit in the text."""
    number = finite(value)
    if number is None:
        return MISSING
    if count or unit in COUNT_UNITS:
        text = f"{round(number):,}"
    elif unit in PERCENT_UNITS:
        text = f"{significant(number * 100)}%"
    else:
        text = _plain(number)
    return text.replace("-", MINUS, 1)


def format_difference(value, unit: str = "") -> str:
    """A signed difference: percentage points (no % sign) for shares and rates, whole days and
    nodes, else as format_value."""
    number = finite(value)
    if number is None:
        return MISSING
    if unit in PERCENT_UNITS:
        text = significant(number * 100)
    elif unit in COUNT_UNITS:
        text = f"{round(number):,}"
    else:
        text = _plain(number)
    if text.lstrip("-") == "0":
        return "0"
    if number > 0:
        return f"+{text}"
    return text.replace("-", MINUS, 1)


def difference_unit(unit: str) -> str:
    """The unit of a difference of a KPI in `unit` (percentage points for shares and rates)."""
    return DIFFERENCE_UNITS.get(unit, unit)


def display_unit(unit: str) -> str:
    """Units as the formatted values read: shares and rates are shown in percent."""
    return {"share": "%", "share of runs": "% of runs", "1/year": "%/year"}.get(unit, unit)


def quantity(value, unit: str = "", difference: bool = False, short: bool = False) -> str:
    """A number with its unit, for running text: "2.30M SESH", "+$1.20 a day", "54.0%",
    "+4.00 pp", "650 days", "1,333 nodes". `short` (the bounds of an interval beside a full
    quantity) keeps only the $ and % signs: "$0.0062", "+2.16M"."""
    text = format_difference(value, unit) if difference else format_value(value, unit)
    if text == MISSING:
        return text
    if unit in ("USD", "USD/SESH", "USD/day"):
        sign = text[0] if text[0] in f"+{MINUS}-" else ""
        rest = f"${text[len(sign) :]}"
        per = {"USD/SESH": " per SESH", "USD/day": " a day"}.get(unit, "")
        return f"{sign}{rest}" if short else f"{sign}{rest}{per}"
    if short:
        return text
    if unit in PERCENT_UNITS:
        if difference:
            return f"{text} {difference_unit(unit)}"
        return text if unit != "1/year" else f"{text} a year"
    if unit in ("day", "days"):
        return f"{text} day{'' if text in ('1', '+1', MINUS + '1') else 's'}"
    if unit in ("", "ratio"):
        return text
    return f"{text} {unit}"


# Axis ticks are round numbers: they keep the digits they need (up to six), no trailing zeros.
TICK_DIGITS = 6


def _trimmed(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_tick(value, unit: str = "") -> str:
    """An axis tick label in this module's format: scaled from a thousand (k, M, B, T), percent
    for shares and rates, whole counts with separators, never an exponent, a true minus sign;
    with the digits a round tick needs (up to six) and no trailing zeros: "0.05", "1.5M",
    "12.5%", "1,000"."""
    number = finite(value)
    if number is None:
        return MISSING
    if number == 0:
        return "0"
    if unit in COUNT_UNITS:
        text = _trimmed(significant(number, TICK_DIGITS))
    elif unit in PERCENT_UNITS:
        text = f"{_trimmed(significant(number * 100, TICK_DIGITS))}%"
    else:
        scaled = _plain(number, TICK_DIGITS)
        suffix = scaled[-1] if scaled[-1].isalpha() else ""
        text = _trimmed(scaled.removesuffix(suffix)) + suffix
    return text.replace("-", MINUS, 1)


def format_change(value, unit: str = "", short: bool = False) -> str:
    """The size of a change (Morris mu*, a spread), unsigned, as `quantity` writes a difference:
    percentage points for shares and rates ("2.30M SESH", "4.00 pp")."""
    return quantity(value, unit, difference=True, short=short).lstrip("+")


# A paired difference's statistics, as compare.py's table (comparison.csv) holds them.
DIFFERENCE_STATS = ("mean_difference", "ci_low", "ci_high", "share_positive", "n")


def difference_cells(row: Mapping, unit: str = "") -> dict[str, str]:
    """A paired difference (a row of compare.py's table, of a KPI in `unit`) as the tables
    write it: the mean and the bounds of its 95% interval signed, in the difference's unit
    (percentage points for shares and rates); the share of pairs in which the subset is larger,
    in percent; the number of pairs."""
    cells = {c: format_difference(row[c], unit) for c in ("mean_difference", "ci_low", "ci_high")}
    cells["share_positive"] = format_value(row["share_positive"], "share")
    cells["n"] = format_value(row["n"], count=True)
    return cells
