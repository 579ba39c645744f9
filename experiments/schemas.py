"""What a saved results folder may hold, checked when it is read back (`report`, `publish`).

manifest.json and kpis.json are pydantic models; the CSV tables a report reads are checked
column by column (whole numbers, numbers, text; no repeated row). timeseries.parquet's columns are
checked from its own schema (experiments.reporting.report.check_timeseries). The schemas accept
everything this project writes, past versions included:

- every field is optional except kpis.json's `subsets` and each subset's `kpis` (the report's
  content); fields this project does not write are allowed and not checked;
- a field that is present must have its type. Null is allowed only where this project writes it:
  KPI statistics and comparison numbers (a non-finite value is written as null), parameter and
  override values, and the manifest's `reference_subset`, `thin`, `processes`, `ray_address`,
  `git_revision` and package versions. Integers are not numbers-with-a-fraction (3.0 is not a
  run count), true/false are not numbers, and NaN/Infinity (which JSON does not have, and this
  project never writes) are refused.

`check(model, document, path)` raises SchemaError with one line: the file, the field (a dotted
path such as `subsets.0.kpis.nodes_end.p50`), what is allowed and what was found.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError


class SchemaError(ValueError):
    """A saved file does not have the types this project writes (one-line message)."""


# --- field types ---------------------------------------------------------------------------------
# Each is a plain validator with its own wording, so the message says exactly what is allowed
# ("a number or null"), which pydantic's built-in types cannot for a nullable field.


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is finite as a float64: JSON allows integers such as
    10**400, which no statistic can be and which overflow every float operation."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float64's range
        return False


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or is_finite_number(value)


def _kind(test, allowed: str, nullable: bool = False):
    """A field type: values passing `test` (and None if `nullable`) pass unchanged."""
    allowed = f"{allowed} or null" if nullable else allowed

    def validate(value: Any) -> Any:
        if (value is None and nullable) or (value is not None and test(value)):
            return value
        raise PydanticCustomError("wrong_type", "{allowed}", {"allowed": allowed})

    return Annotated[Any, PlainValidator(validate)]


Text = _kind(lambda v: isinstance(v, str), "a string")
TextOrNull = _kind(lambda v: isinstance(v, str), "a string", nullable=True)
Integer = _kind(_is_integer, "an integer")
IntegerOrNull = _kind(_is_integer, "an integer", nullable=True)
Number = _kind(is_finite_number, "a finite number")
NumberOrNull = _kind(is_finite_number, "a finite number", nullable=True)
Flag = _kind(lambda v: isinstance(v, bool), "true or false")
# a parameter or override value: a number, a string, true/false, or null (non-finite)
Scalar = _kind(_is_scalar, "a number, a string, true or false", nullable=True)
SubsetKey = _kind(lambda v: isinstance(v, str) and v.isdigit(), "a subset number (digits)")


class _Schema(BaseModel):
    """Extra fields allowed (newer or older writers); containers must be what they say."""

    model_config = ConfigDict(extra="allow", strict=True)


# --- manifest.json -------------------------------------------------------------------------------


class ManifestSubset(_Schema):
    subset: Integer = None
    label: Text = None
    overrides: dict[str, Scalar] = {}
    parameters: dict[str, Scalar] = {}


class DataRange(_Schema):
    tge: Text = None
    start: Text = None
    end: Text = None
    days: Integer = None


class Manifest(_Schema):
    """experiments.results.build_manifest."""

    experiment: Text = None
    description: Text = None
    command: list[Text] = []
    seed: Integer = None
    common_draws: Flag = None
    seeding: Text = None
    reference_subset: IntegerOrNull = None
    runs: Integer = None
    years: Number = None
    timesteps: Integer = None
    engine: Text = None
    backend: Text = None
    kpi_only: Flag = None
    thin: IntegerOrNull = None
    timeseries: Text = None
    processes: IntegerOrNull = None
    ray_address: TextOrNull = None
    overrides: dict[str, Scalar] = {}
    subsets: list[ManifestSubset] = []
    data: DataRange = None
    packages: dict[str, TextOrNull] = {}
    python: Text = None
    git_revision: TextOrNull = None
    started_utc: Text = None
    wall_time_seconds: Number = None
    files: list[Text] = []


# --- kpis.json -----------------------------------------------------------------------------------


class KpiInfo(_Schema):
    unit: Text = None
    description: Text = None


class SubsetKpis(_Schema):
    label: Text = None
    overrides: dict[str, Scalar] = {}
    # KPI -> statistic (mean, p5, p50, p95, n; or value) -> number, null when non-finite
    kpis: dict[str, dict[str, NumberOrNull]]
    not_available: dict[str, Text] = {}


class ComparisonRow(_Schema):
    """experiments.analysis.compare.as_document: one paired difference."""

    kpi: Text = None
    subset: Integer = None
    reference_subset: Integer = None
    mean_difference: NumberOrNull = None
    ci_low: NumberOrNull = None
    ci_high: NumberOrNull = None
    median_difference: NumberOrNull = None
    median_ci_low: NumberOrNull = None
    median_ci_high: NumberOrNull = None
    share_positive: NumberOrNull = None
    n: NumberOrNull = None
    label: Text = None
    reference_label: Text = None


class KpisDocument(_Schema):
    """experiments.results.kpis_document (plus `comparison` when a run compared subsets)."""

    experiment: Text = None
    kpis: dict[str, KpiInfo] = {}
    subsets: dict[SubsetKey, SubsetKpis]
    comparison: list[ComparisonRow] = []
    reference_subset: Integer = None


# --- checking ------------------------------------------------------------------------------------

_CONTAINERS = {
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
}


def check(model: type[BaseModel], document: Any, path: Path | str) -> None:
    """SchemaError (one line) unless `document` fits `model`; the first problem is named."""
    try:
        model.model_validate(document)
    except ValidationError as error:
        raise SchemaError(_describe(error.errors()[0], path)) from None


def _describe(problem: Mapping[str, Any], path: Path | str) -> str:
    loc = [str(part) for part in problem["loc"]]
    kind = problem["type"]
    if kind == "missing":
        return f"invalid {path}: '{'.'.join(loc)}' is missing (it is required)"
    if kind == "wrong_type":
        allowed = problem["ctx"]["allowed"]
    else:
        allowed = _CONTAINERS.get(kind, problem["msg"])
    if loc and loc[-1] == "[key]":  # a dict key: pydantic puts the key itself before this
        where, key = ".".join(loc[:-2]), loc[-2]
        return f"invalid {path}: key {_show(key)} in '{where}' must be {allowed}"
    where = ".".join(loc) or "the document"
    return f"invalid {path}: '{where}' must be {allowed}, got {_show(problem['input'])}"


def _show(value: Any, limit: int = 40) -> str:
    """A value as the file has it (JSON), cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    if isinstance(value, (dict, list)):
        text = "an object" if isinstance(value, dict) else "a list"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- tables --------------------------------------------------------------------------------------
# column -> kind, for the CSV files a report reads (the kind of text columns is not checked: any
# cell reads as text).

INTEGER, NUMBER, TEXT = "integer", "number", "text"
ALLOWED = {INTEGER: "whole numbers", NUMBER: "numbers (empty for none)", TEXT: "text"}
TABLES = {
    "comparison.csv": {
        "kpi": TEXT,
        "subset": INTEGER,
        "reference_subset": INTEGER,
        "mean_difference": NUMBER,
        "ci_low": NUMBER,
        "ci_high": NUMBER,
        "median_difference": NUMBER,
        "median_ci_low": NUMBER,
        "median_ci_high": NUMBER,
        "share_positive": NUMBER,
        "n": NUMBER,
    },
    "sensitivity.csv": {
        "kpi": TEXT,
        "parameter": TEXT,
        "mu_star": NUMBER,
        "mu_star_conf": NUMBER,
        "sigma": NUMBER,
        "rank": NUMBER,
    },
    "headline_sensitivity.csv": {
        "headline": TEXT,
        "claim": TEXT,
        "kpi": TEXT,
        "unit": TEXT,
        "parameter": TEXT,
        "source": TEXT,
        "low": NUMBER,
        "high": NUMBER,
        "at_default": NUMBER,
        "ci_low": NUMBER,
        "ci_high": NUMBER,
        "n": NUMBER,
        "at_low": NUMBER,
        "at_high": NUMBER,
        "swing": NUMBER,
        "rank": NUMBER,
    },
}


# the columns that name a row: no two rows of a table may share them
TABLE_KEYS = {
    "comparison.csv": ("kpi", "subset"),
    "sensitivity.csv": ("kpi", "parameter"),
    "headline_sensitivity.csv": ("headline", "parameter"),
}


def check_table(table, columns: Mapping[str, str], path: Path | str, key: tuple[str, ...] = ()):
    """`table` (a DataFrame) with each of `columns` of its kind (a column pandas left as text
    because of a number it cannot hold, 1e23 written out, is read as numbers); SchemaError if a
    column is missing or a cell is not of its column's kind, or two rows share `key`'s values."""
    for column, kind in columns.items():
        if column not in table.columns:
            raise SchemaError(f"invalid {path}: missing column '{column}'")
        values = table[column]
        if kind == TEXT or _fits_column(values, kind):
            continue
        misfit = _first_misfit(values, kind)
        if misfit is not None:
            raise SchemaError(
                f"invalid {path}: column '{column}' must hold {ALLOWED[kind]}, got {misfit}"
            )
        table = table.assign(**{column: _numbers(values)})
    if key:
        twice = table.duplicated(subset=list(key))
        if twice.any():
            position = int(twice.to_numpy().argmax())
            cells = [table[column].iloc[position] for column in key]
            named = ", ".join(
                f"{column} {_show(cell.item() if hasattr(cell, 'item') else cell)}"
                for column, cell in zip(key, cells, strict=True)
            )
            line = position + 2  # line 1 is the header
            raise SchemaError(
                f"invalid {path}: line {line} repeats {named}; each must have one row"
            )
    return table


def _fits_column(values, kind: str) -> bool:
    """Whether a column is of `kind` as pandas read it: numbers (whole ones for INTEGER)."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    if kind == INTEGER:
        return pd.api.types.is_integer_dtype(values) or bool(
            (values.notna() & (values % 1 == 0)).all()
        )
    return not values.isin([math.inf, -math.inf]).any()


def _first_misfit(values, kind: str) -> str | None:
    """The first cell that is not of `kind`, as the file has it and with its line; None if
    every cell is."""
    for line, value in enumerate(values.tolist(), start=2):  # line 1 is the header
        number = _number(value)
        empty = _is_nan(number) and not (isinstance(value, str) and value.strip())
        fits = (empty and kind == NUMBER) or (
            is_finite_number(number) and (kind == NUMBER or float(number).is_integer())
        )
        if not fits:
            return f"{'an empty cell' if empty else _show(value)} on line {line}"
    return None


def _numbers(values):
    """A column of cells that all fit (`_first_misfit` None) as floats, parsed as Python parses
    them (correctly rounded, as pandas' round-trip parser does for a numeric column)."""
    import pandas as pd

    return pd.Series([_number(v) for v in values.tolist()], index=values.index, dtype=float)


def _number(value: Any) -> Any:
    """A cell as a number: text parsed, empty as NaN; NaN for text that is not a number, and
    true/false left as they are (never a number here)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return value


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
