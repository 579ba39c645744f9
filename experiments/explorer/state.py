"""The explorer's view and its URL: the query string is the whole view.

Every parameter (`name=value`, as `--set` reads it), scenario B's own overrides (`b.name=value`,
on top of A's), `runs`, `years` and `seed`. So `/?fee_pool_share=1.0&runs=100&years=5` opens that
scenario, and every change of a control rewrites the query string. A bad value never raises: it
comes back as the `ParameterError` message the command line would print, under its query key.
Seeds and run counts are read as exact decimals (a seed above 2^53 stays that seed).
"""

from __future__ import annotations

import decimal
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from experiments.engines.registry import RunSpec
from model import ParameterError, Parameters
from model.parameters import parse_value

DEFAULT_RUNS = 100
DEFAULT_YEARS = 5.0
DEFAULT_SEED = 0
RUN_KEYS = ("runs", "years", "seed")
B_PREFIX = "b."
# Seeds and run counts are read as exact decimals (never through a float, exact only to 2^53);
# beyond this many digits a number is refused rather than expanded.
MAX_INTEGER_DIGITS = 100
# The scenarios' names: subset 0 of a view is A, subset 1 is B.
LABELS = {0: "A", 1: "B"}
INFO = Parameters.field_info()


# --- the view and its query string ---------------------------------------------------------------


@dataclass
class View:
    """What the page shows: A's overrides, B's own overrides (on top of A's) and the run."""

    a: dict[str, Any] = field(default_factory=dict)
    b: dict[str, Any] = field(default_factory=dict)
    runs: int = DEFAULT_RUNS
    years: float = DEFAULT_YEARS
    seed: int = DEFAULT_SEED

    @property
    def has_b(self) -> bool:
        return bool(self.b)

    @property
    def scenarios(self) -> int:
        return 2 if self.has_b else 1

    def parameter_sets(self) -> list[Parameters]:
        sets = [Parameters.from_overrides(self.a)]
        if self.has_b:
            sets.append(Parameters.from_overrides({**self.a, **self.b}))
        return sets

    @property
    def run_years(self) -> float:
        return self.runs * self.years * self.scenarios


def value_text(value: Any) -> str:
    """A typed value as `--set` and the query string write it (parse_value reads it back)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def years_text(years: float) -> str:
    return str(int(years)) if float(years).is_integer() else repr(float(years))


def key_of(scenario: str, name: str) -> str:
    """The query-string key of a control: `name` for A and the run, `b.name` for B."""
    return B_PREFIX + name if scenario == "b" else name


def render_query(view: View) -> str:
    """The query string of a view (with its leading "?")."""
    pairs = [(name, value_text(v)) for name, v in view.a.items()]
    pairs += [(B_PREFIX + name, value_text(v)) for name, v in view.b.items()]
    pairs += [("runs", str(view.runs)), ("years", years_text(view.years)), ("seed", str(view.seed))]
    return "?" + urlencode(pairs)


def _pairs(search: str | None) -> list[tuple[str, str]]:
    return parse_qsl((search or "").lstrip("?"), keep_blank_values=True)


def _run_setting(name: str, text: str) -> float | int:
    """runs or seed (integers) or years (a number) from text; ParameterError as RunSpec says.

    Integers are read as exact decimals, however written (`9007199254740993`, `1e3`, `100.0`):
    a seed above 2^53 stays that seed, never the float next to it."""
    text = text.strip().replace("_", "")
    if name == "years":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ParameterError(f"invalid years: must be a number in (0, 100], got {text!r}")
        return number
    floor = 1 if name == "runs" else 0
    try:
        exact = decimal.Decimal(text)
    except decimal.InvalidOperation:
        exact = decimal.Decimal("nan")
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ParameterError(f"invalid {name}: must be an integer >= {floor}, got {text!r}")
    if exact.adjusted() >= MAX_INTEGER_DIGITS:
        raise ParameterError(
            f"invalid {name}: must be an integer >= {floor} of at most {MAX_INTEGER_DIGITS} "
            f"digits, got {text!r}"
        )
    return int(exact)


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")


def _blame(message: str, prefix: str) -> str:
    """The query key a cross-parameter message is about: its first quoted parameter name."""
    for name in _QUOTED.findall(message):
        if name in INFO:
            return prefix + name
    return prefix + "parameters"


def parse_query(search: str | None) -> tuple[View, dict[str, str]]:
    """The view a query string asks for, and its errors: query key -> the one-line message the
    command line prints for that value. Empty values mean the default (A) or A's value (B); a
    bad value is left out of the view."""
    view, errors = View(), {}
    for key, text in _pairs(search):
        if not text.strip():
            continue
        try:
            if key in RUN_KEYS:
                value = _run_setting(key, text)
                RunSpec(**{key: value}, engine="vectorized", common_draws=True)
                setattr(view, key, value)
                continue
            target, name = (
                (view.b, key[len(B_PREFIX) :]) if key.startswith(B_PREFIX) else (view.a, key)
            )
            value = parse_value(name, text)
            _check_alone(name, value)
            target[name] = value
        except ParameterError as error:
            errors[key] = str(error)
    if not errors or not any(k in errors for k in RUN_KEYS):
        try:  # the settings together (each was checked alone)
            RunSpec(view.runs, view.years, view.seed, engine="vectorized", common_draws=True)
        except ParameterError as error:
            errors["runs"] = str(error)
    try:  # the values together: a rule over several parameters
        Parameters.from_overrides(view.a)
    except ParameterError as error:
        errors[_blame(str(error), "")] = str(error)
    else:
        if view.b:
            try:
                Parameters.from_overrides({**view.a, **view.b})
            except ParameterError as error:
                errors[_blame(str(error), B_PREFIX)] = f"scenario B: {error}"
    return view, errors


def _check_alone(name: str, value: Any) -> None:
    """ParameterError if the value is not one the parameter accepts (its kind and range)."""
    try:
        Parameters.from_overrides({name: value})
    except ParameterError as error:
        if str(error).startswith(f"invalid parameter '{name}'"):
            raise
        # a rule over several parameters: checked once every value is in


# --- controls <-> query string -------------------------------------------------------------------


def control_id(scenario: str, name: str) -> dict[str, str]:
    return {"type": "control", "scenario": scenario, "name": name}


def error_id(scenario: str, name: str) -> dict[str, str]:
    return {"type": "error", "scenario": scenario, "name": name}


def control_key(control: Mapping[str, str]) -> str:
    return key_of(control["scenario"], control["name"])


def query_from_controls(items: Iterable[tuple[Mapping[str, str], Any]]) -> str:
    """The query string the controls spell (ids and values): every non-empty control, as typed
    (a bad value too: the page then shows its message), in the parameter table's order."""
    order = {name: i for i, name in enumerate(INFO)}
    texts = {}
    for control, value in items:
        text = "" if value is None else str(value).strip()
        if text:
            texts[(control["scenario"], control["name"])] = text

    def rank(item):
        (scenario, name), _ = item
        position = RUN_KEYS.index(name) if scenario == "run" else order.get(name, len(order))
        return ({"a": 0, "b": 1, "run": 2}[scenario], position)

    pairs = [(key_of(s, n), text) for (s, n), text in sorted(texts.items(), key=rank)]
    return "?" + urlencode(pairs)


def controls_from_query(search: str | None, controls: Sequence[Mapping[str, str]]) -> list[Any]:
    """Each control's value for a query string: the text given (None when absent; the run
    settings show their defaults)."""
    given = dict(_pairs(search))
    defaults = {"runs": str(DEFAULT_RUNS), "years": years_text(DEFAULT_YEARS), "seed": "0"}
    values = []
    for control in controls:
        text = given.get(control_key(control))
        if control["scenario"] == "run":
            values.append(text if text else defaults[control["name"]])
            continue
        name = control["name"]
        if text and name in INFO and isinstance(INFO[name]["default"], bool):
            try:  # the dropdown's own spelling of yes/1/on
                text = value_text(parse_value(name, text))
            except ParameterError:
                pass
        values.append(text or None)
    return values


# --- the command line -----------------------------------------------------------------------------


def cli_line(overrides: Mapping[str, Any], view: View) -> str:
    """The `python -m experiments run` line that reproduces one scenario (same seeds)."""
    words = ["python", "-m", "experiments", "run", "baseline"]
    words += ["--runs", str(view.runs), "--years", years_text(view.years), "--seed", str(view.seed)]
    for name, value in overrides.items():
        words += ["--set", f"{name}={value_text(value)}"]
    return " ".join(shlex.quote(w) for w in words)


def cli_lines(view: View) -> dict[str, str]:
    lines = {"A": cli_line(view.a, view)}
    if view.has_b:
        lines["B"] = cli_line({**view.a, **view.b}, view)
    return lines


def spec(view: View) -> RunSpec:
    """The run settings of a view: the vectorized engine, A and B on common random numbers."""
    return RunSpec(view.runs, view.years, view.seed, engine="vectorized", common_draws=True)
