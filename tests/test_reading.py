"""Reading saved results back (`report`, `publish`): a file of the right shape with the wrong
types is one line naming the file, the field and what is allowed, exit 2, nothing written; a
missing file or a NaN value is named on stderr and the page is built without it; everything this
project writes (full, multi-subset with comparison.csv, KPI-only, thinned, radCAD) still reads."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import main as _main
from cli_support import run_into as _run

from experiments.reporting import report

RUN = ("--runs", "2", "--years", "0.1", "--seed", "3")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A real results folder (one subset, full timeseries); tests corrupt copies of it."""
    return _run(tmp_path_factory.mktemp("reading") / "baseline", "baseline", *RUN)


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    """A run of two subsets: comparison.csv and kpis.json's `comparison` section."""
    return _run(tmp_path_factory.mktemp("reading") / "fee_split", "fee_split", *RUN)


@pytest.fixture(scope="module")
def kpi_only(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("reading") / "kpi_only", "baseline", *RUN, "--kpi-only")


def _copy(source: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(source, tmp_path / name))


def _edit_json(folder: Path, name: str, edit: Callable[[dict], object]) -> None:
    document = json.loads((folder / name).read_text())
    edit(document)
    (folder / name).write_text(json.dumps(document))


def _edit_frame(folder: Path, edit: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
    path = folder / "timeseries.parquet"
    frame = pd.read_parquet(path)
    edited = edit(frame)
    frame = frame if edited is None else edited
    frame.to_parquet(path, index=False)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def _report_fails(folder: Path, capsys) -> str:
    """`report FOLDER` exits 2 with one line on stderr and nothing else, and writes nothing;
    the line."""
    capsys.readouterr()
    before = _snapshot(folder)
    assert _main("report", str(folder)) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in captured.err and captured.out == ""
    assert _snapshot(folder) == before
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []
    return lines[0]


def _report_notes(folder: Path, capsys) -> list[str]:
    """`report FOLDER` exits 0 and writes report.html; the note lines on stderr (nothing else)."""
    capsys.readouterr()
    (folder / report.REPORT_FILE).unlink(missing_ok=True)
    assert _main("report", str(folder)) == 0
    captured = capsys.readouterr()
    assert "report.html" in captured.out and (folder / report.REPORT_FILE).is_file()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert all(line.startswith("note: ") for line in lines), lines
    return lines


def _first_kpi(document: dict) -> str:
    """A run-level KPI of subset 0 (one with a p50)."""
    stats = document["subsets"]["0"]["kpis"]
    return next(name for name, values in stats.items() if "p50" in values)


# --- wrong types: one line naming the file, the field and what is allowed, exit 2 ---------------


def test_a_kpi_statistic_that_is_text_is_refused_with_its_field(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    name = _first_kpi(json.loads((bad / "kpis.json").read_text()))
    _edit_json(bad, "kpis.json", lambda d: d["subsets"]["0"]["kpis"][name].update(p50="abc"))
    line = _report_fails(bad, capsys)
    assert str(bad / "kpis.json") in line
    assert f"'subsets.0.kpis.{name}.p50' must be a finite number or null" in line
    assert '"abc"' in line


def test_a_kpi_statistic_beyond_float_range_is_refused(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    name = _first_kpi(json.loads((bad / "kpis.json").read_text()))
    _edit_json(bad, "kpis.json", lambda d: d["subsets"]["0"]["kpis"][name].update(p50=10**400))
    line = _report_fails(bad, capsys)
    assert f"'subsets.0.kpis.{name}.p50' must be a finite number or null" in line


def test_a_manifest_nested_too_deeply_is_one_line(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    (bad / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    line = _report_fails(bad, capsys)
    assert str(bad / "manifest.json") in line


def test_a_manifest_command_of_non_strings_is_refused_with_its_field(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    _edit_json(bad, "manifest.json", lambda d: d.update(command=[1, None]))
    line = _report_fails(bad, capsys)
    assert str(bad / "manifest.json") in line and "'command.0' must be a string, got 1" in line


def _set(*keys, value):
    """An edit that sets document[keys...] = value."""

    def edit(document):
        for key in keys[:-1]:
            document = document[key]
        document[keys[-1]] = value

    return edit


def _first_parameter(document):
    return next(iter(document["subsets"][0]["parameters"]))


@pytest.mark.parametrize(
    "name, edit, expected",
    [
        ("manifest.json", _set("runs", value="2"), "'runs' must be an integer, got \"2\""),
        ("manifest.json", _set("runs", value=2.0), "'runs' must be an integer, got 2.0"),
        ("manifest.json", _set("runs", value=True), "'runs' must be an integer, got true"),
        ("manifest.json", _set("seed", value=None), "'seed' must be an integer, got null"),
        ("manifest.json", _set("years", value="long"), "'years' must be a finite number"),
        ("manifest.json", _set("common_draws", value=1), "'common_draws' must be true or false"),
        ("manifest.json", _set("overrides", value=[]), "'overrides' must be an object, got a"),
        ("manifest.json", _set("subsets", value={}), "'subsets' must be a list, got an object"),
        ("manifest.json", _set("subsets", 0, "label", value=5), "'subsets.0.label' must be a"),
        ("manifest.json", _set("data", "days", value="36"), "'data.days' must be an integer"),
        ("manifest.json", _set("packages", "numpy", value=1), "'packages.numpy' must be a string"),
        ("manifest.json", _set("files", value="all"), "'files' must be a list"),
        ("manifest.json", _set("wall_time_seconds", value="1s"), "'wall_time_seconds' must be"),
        ("kpis.json", _set("subsets", "0", "label", value=0), "'subsets.0.label' must be a string"),
        ("kpis.json", _set("subsets", "x", value={"kpis": {}}), "key \"x\" in 'subsets' must be"),
        ("kpis.json", _set("kpis", "nodes_end", "unit", value=3), "'kpis.nodes_end.unit' must be"),
        ("kpis.json", _set("subsets", "0", "not_available", value=[]), "must be an object"),
        ("kpis.json", _set("subsets", "0", "kpis", "nodes_end", value=3), "must be an object"),
        ("kpis.json", lambda d: d["subsets"]["0"].pop("kpis"), "'subsets.0.kpis' is missing"),
        ("kpis.json", _set("subsets", "0", "kpis", "nodes_end", "n", value=False), "got false"),
    ],
)
def test_a_field_of_the_wrong_type_is_one_line_and_exit_2(
    saved, tmp_path, capsys, name, edit, expected
):
    bad = _copy(saved, tmp_path)
    _edit_json(bad, name, edit)
    line = _report_fails(bad, capsys)
    assert f"invalid {bad / name}: " in line and expected in line, line


def test_a_parameter_value_that_is_a_list_is_refused(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    name = _first_parameter(json.loads((bad / "manifest.json").read_text()))
    _edit_json(bad, "manifest.json", _set("subsets", 0, "parameters", name, value=[1]))
    line = _report_fails(bad, capsys)
    assert f"'subsets.0.parameters.{name}' must be a number, a string, true or false or null" in (
        line
    )


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_json_number_is_refused(saved, tmp_path, capsys, literal):
    """This project writes non-finite KPIs as null; Python's json would read NaN as a number."""
    bad = _copy(saved, tmp_path)
    name = _first_kpi(json.loads((bad / "kpis.json").read_text()))
    _edit_json(bad, "kpis.json", _set("subsets", "0", "kpis", name, "mean", value=12345.5))
    text = (bad / "kpis.json").read_text()
    (bad / "kpis.json").write_text(text.replace("12345.5", literal))
    line = _report_fails(bad, capsys)
    assert f"'subsets.0.kpis.{name}.mean' must be a finite number or null, got {literal}" in line


def test_a_comparison_row_of_the_wrong_type_in_kpis_json_is_refused(compared, tmp_path, capsys):
    bad = _copy(compared, tmp_path)
    _edit_json(bad, "kpis.json", lambda d: d["comparison"][0].update(mean_difference="abc"))
    line = _report_fails(bad, capsys)
    assert "'comparison.0.mean_difference' must be a finite number or null" in line


@pytest.mark.parametrize(
    "column, cell, expected",
    [
        ("mean_difference", "abc", "column 'mean_difference' must hold numbers (empty for none), "
         'got "abc" on line 2'),
        ("subset", "1.5", "column 'subset' must hold whole numbers, got 1.5 on line 2"),
        ("subset", "", "column 'subset' must hold whole numbers, got an empty cell on line 2"),
        ("share_positive", "inf", "column 'share_positive' must hold numbers"),
    ],
)  # fmt: skip
def test_a_comparison_csv_cell_of_the_wrong_type_is_refused(
    compared, tmp_path, capsys, column, cell, expected
):
    bad = _copy(compared, tmp_path)
    table = pd.read_csv(bad / "comparison.csv", dtype=str, keep_default_na=False)
    table.loc[0, column] = cell
    table.to_csv(bad / "comparison.csv", index=False)
    line = _report_fails(bad, capsys)
    assert f"invalid {bad / 'comparison.csv'}: {expected}" in line, line


def test_a_comparison_csv_number_pandas_reads_as_text_is_read_as_a_number(
    compared, tmp_path, capsys
):
    """A 23-digit integer: pandas keeps the column as text; it is still a number."""
    copy = _copy(compared, tmp_path)
    table = pd.read_csv(copy / "comparison.csv", dtype=str, keep_default_na=False)
    table.loc[0, "mean_difference"] = "99999999999999999999999"
    table.to_csv(copy / "comparison.csv", index=False)
    assert _report_notes(copy, capsys) == []
    assert (
        f'data-value="{json.dumps(float("99999999999999999999999"))}"'
        in (copy / report.REPORT_FILE).read_text()
    )


def test_a_comparison_csv_with_a_repeated_row_is_refused(compared, tmp_path, capsys):
    bad = _copy(compared, tmp_path)
    table = pd.read_csv(bad / "comparison.csv")
    pd.concat([table, table.iloc[[0]]]).to_csv(bad / "comparison.csv", index=False)
    line = _report_fails(bad, capsys)
    expected = f'line {len(table) + 2} repeats kpi "{table["kpi"][0]}", subset 1; each must'
    assert expected in line, line


def _sensitivity_table(rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kpi": ["nodes_end"] * rows,
            "parameter": [f"p{i}" for i in range(rows)],
            "mu_star": np.linspace(3.0, 1.0, rows),
            "mu_star_conf": [0.5] * rows,
            "sigma": [1.25] * rows,
            "rank": list(range(1, rows + 1)),
        }
    )


def test_a_sensitivity_csv_is_read_with_its_types_checked(saved, tmp_path, capsys):
    good = _copy(saved, tmp_path, "good")
    _sensitivity_table().to_csv(good / "sensitivity.csv", index=False)
    assert _report_notes(good, capsys) == []
    assert 'id="sensitivity"' in (good / report.REPORT_FILE).read_text()
    bad = _copy(saved, tmp_path, "bad")
    _sensitivity_table().assign(sigma=["1", "x", "2"]).to_csv(bad / "sensitivity.csv", index=False)
    line = _report_fails(bad, capsys)
    assert (
        "sensitivity.csv: column 'sigma' must hold numbers (empty for none), got \"x\" on line 3"
        in (line)
    )


# --- the timeseries ------------------------------------------------------------------------------


def test_a_timeseries_that_is_a_directory_is_refused(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    (bad / "timeseries.parquet").unlink()
    (bad / "timeseries.parquet").mkdir()
    line = _report_fails(bad, capsys)
    assert f"invalid {bad / 'timeseries.parquet'}: a directory" in line


@pytest.mark.parametrize("name", ["kpis.json", "manifest.json", "comparison.csv"])
def test_any_result_file_that_is_a_directory_is_refused(compared, tmp_path, capsys, name):
    bad = _copy(compared, tmp_path)
    (bad / name).unlink()
    (bad / name).mkdir()
    assert f"invalid {bad / name}: a directory" in _report_fails(bad, capsys)


def test_a_price_column_of_text_is_refused(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    _edit_frame(bad, lambda f: f.assign(price_usd=f["price_usd"].astype(str)))
    line = _report_fails(bad, capsys)
    assert "column 'price_usd' must hold numbers, not text" in line


def test_an_index_column_that_is_not_integers_is_refused(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    _edit_frame(bad, lambda f: f.assign(run=f["run"] + 0.5))
    assert "column 'run' must hold integers, not double" in _report_fails(bad, capsys)


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("timestep", 10**15, "'timestep' must hold integers 0 to 36 (the manifest's timesteps)"),
        ("timestep", -1, "'timestep' must hold integers 0 to 36"),
        ("run", -1, "'run' must hold integers 0 or more, got -1"),
    ],
)
def test_a_row_that_cannot_be_placed_is_refused(saved, tmp_path, capsys, column, value, expected):
    bad = _copy(saved, tmp_path)

    def edit(frame):
        frame.loc[3, column] = value

    _edit_frame(bad, edit)
    assert expected in _report_fails(bad, capsys)


@pytest.mark.parametrize("shuffled", [False, True], ids=["in run order", "shuffled"])
def test_a_repeated_timeseries_row_is_refused(saved, tmp_path, capsys, shuffled):
    bad = _copy(saved, tmp_path)

    def edit(frame):
        last = frame["run"].max()
        frame = pd.concat([frame, frame[(frame["run"] == last) & (frame["timestep"] == 30)]])
        return (
            frame.sample(frac=1, random_state=5)
            if shuffled
            else frame.sort_values(["subset", "run", "timestep"], kind="stable")
        )

    _edit_frame(bad, edit)
    run = pd.read_parquet(bad / "timeseries.parquet")["run"].max()
    expected = f"subset 0, run {run}, timestep 30 has more than one row; each has exactly one"
    assert expected in _report_fails(bad, capsys)


def test_nan_and_infinite_prices_are_named_and_left_out_of_the_charts(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)

    def edit(frame):
        frame.loc[frame["timestep"] == 5, "price_usd"] = np.inf  # every run: a gap
        first = frame["run"] == frame["run"].min()
        frame.loc[(frame["timestep"] == 6) & first, "price_usd"] = np.nan

    _edit_frame(bad, edit)
    rows = len(pd.read_parquet(bad / "timeseries.parquet"))
    notes = _report_notes(bad, capsys)
    assert len(notes) == 1
    assert f"{bad / 'timeseries.parquet'} holds NaN or infinite values" in notes[0]
    assert f"price_usd (3 of {rows} rows)" in notes[0] and "charts leave them out" in notes[0]
    results = report.load_results(bad, columns=report.NEEDED_COLUMNS)
    median = next(t for t in report.chart_figures(results)["price_usd"].data if t.name == "median")
    y = np.asarray(median.y, dtype=float)
    assert np.isnan(y[5]) and np.isfinite(np.delete(y, 5)).all()  # day 6: the other run's value
    frame = pd.read_parquet(bad / "timeseries.parquet")
    other = frame[(frame["timestep"] == 6) & (frame["run"] == frame["run"].max())]
    assert y[6] == other["price_usd"].item()


def test_a_timeseries_of_nan_prices_only_still_gives_the_kpi_tables(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    _edit_frame(bad, lambda f: f.assign(price_usd=np.nan))
    notes = _report_notes(bad, capsys)
    assert len(notes) == 1 and "price_usd (" in notes[0]
    page = (bad / report.REPORT_FILE).read_text()
    assert page.count("data-kpi=") == (saved / report.REPORT_FILE).read_text().count("data-kpi=")


def test_an_empty_timeseries_is_named(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    _edit_frame(bad, lambda f: f.iloc[0:0])
    notes = _report_notes(bad, capsys)
    assert notes == [f"note: {bad / 'timeseries.parquet'} holds no rows: the report has no charts"]


# --- missing files -------------------------------------------------------------------------------


def test_a_missing_kpis_json_is_named_and_the_page_has_no_kpi_tables(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    (bad / "kpis.json").unlink()
    notes = _report_notes(bad, capsys)
    assert notes == [f"note: {bad / 'kpis.json'} is missing: the report has no KPI tables"]
    page = (bad / report.REPORT_FILE).read_text()
    assert "No kpis.json in this results directory." in page and "data-kpi=" not in page
    assert "plotly-graph-div" in page  # the charts are still there
    assert "(manifest.json, timeseries.parquet)" in page  # what it was built from


def test_a_missing_timeseries_is_named_and_the_page_says_it_is_gone(saved, tmp_path, capsys):
    bad = _copy(saved, tmp_path)
    (bad / "timeseries.parquet").unlink()
    notes = _report_notes(bad, capsys)
    assert notes == [f"note: {bad / 'timeseries.parquet'} is missing: the report has no charts"]
    page = (bad / report.REPORT_FILE).read_text()
    assert "plotly-graph-div" not in page and "it is no longer in the results directory" in page
    assert "this run saved KPIs only" not in page


def test_a_missing_comparison_csv_is_named(compared, tmp_path, capsys):
    bad = _copy(compared, tmp_path)
    (bad / "comparison.csv").unlink()
    notes = _report_notes(bad, capsys)
    assert notes == [
        f"note: {bad / 'comparison.csv'} is missing: the report has no paired differences"
    ]
    assert 'id="comparison"' not in (bad / report.REPORT_FILE).read_text()


def test_a_kpi_only_run_without_a_timeseries_reports_without_a_note(kpi_only, tmp_path, capsys):
    copy = _copy(kpi_only, tmp_path)
    assert _report_notes(copy, capsys) == []
    assert "this run saved KPIs only" in (copy / report.REPORT_FILE).read_text()


def test_without_a_file_list_the_manifest_s_kpi_only_flag_decides(
    saved, kpi_only, tmp_path, capsys
):
    full = _copy(saved, tmp_path, "full")
    (full / "timeseries.parquet").unlink()
    _edit_json(full, "manifest.json", lambda m: m.pop("files"))
    assert _report_notes(full, capsys) == [
        f"note: {full / 'timeseries.parquet'} is missing: the report has no charts"
    ]
    kpis = _copy(kpi_only, tmp_path, "kpis")
    _edit_json(kpis, "manifest.json", lambda m: m.pop("files"))
    assert _report_notes(kpis, capsys) == []


# --- lenient: what this project writes, now and before ------------------------------------------


def test_nulls_where_this_project_writes_them_are_accepted(saved, tmp_path, capsys):
    copy = _copy(saved, tmp_path)
    name = _first_parameter(json.loads((copy / "manifest.json").read_text()))

    def nulls(manifest):
        manifest.update(reference_subset=None, thin=None, processes=None, git_revision=None)
        manifest.update(ray_address=None)
        manifest["packages"]["ray"] = None
        manifest["subsets"][0]["parameters"][name] = None  # a non-finite value, as written
        manifest["overrides"] = {name: None}

    _edit_json(copy, "manifest.json", nulls)
    kpi = _first_kpi(json.loads((copy / "kpis.json").read_text()))
    _edit_json(copy, "kpis.json", _set("subsets", "0", "kpis", kpi, "p50", value=None))
    assert _report_notes(copy, capsys) == []


def test_an_older_results_folder_reads_without_a_note(saved, tmp_path, capsys):
    """The first results folders (2026-11-24) had no kpi_only, thin, timeseries, common_draws,
    reference_subset or not_available; a newer writer may add fields."""
    old = _copy(saved, tmp_path)
    dropped = ("kpi_only", "thin", "timeseries", "common_draws", "reference_subset")
    _edit_json(old, "manifest.json", lambda m: [m.pop(k) for k in dropped] + [m.update(new=[1])])
    _edit_json(old, "kpis.json", lambda d: d["subsets"]["0"].pop("not_available"))
    assert _report_notes(old, capsys) == []


def test_a_manifest_of_only_an_object_is_enough(saved, tmp_path, capsys):
    """Every manifest field is optional: a hand-made {} still gives a page (with '?' facts)."""
    bare = _copy(saved, tmp_path)
    (bare / "manifest.json").write_text("{}")
    assert _report_notes(bare, capsys) == []


def test_every_results_folder_this_project_writes_validates(
    saved, compared, kpi_only, tmp_path, capsys
):
    from experiments import schemas

    thinned = _run(tmp_path / "thinned", "fee_split", *RUN, "--kpi-only", "--thin", "7")
    radcad = _run(tmp_path / "radcad", "baseline", "--runs", "2", "--years", "0.05", "--engine",
                  "radcad")  # fmt: skip
    for folder in (saved, compared, kpi_only, thinned, radcad):
        schemas.check(schemas.Manifest, json.loads((folder / "manifest.json").read_text()), "m")
        schemas.check(schemas.KpisDocument, json.loads((folder / "kpis.json").read_text()), "k")
        copy = _copy(folder, tmp_path, f"copy-{folder.name}")
        assert _report_notes(copy, capsys) == [], folder.name
        assert (copy / report.REPORT_FILE).read_bytes() == (
            folder / report.REPORT_FILE
        ).read_bytes()
    document = json.loads((compared / "kpis.json").read_text())
    assert document["comparison"] and (compared / "comparison.csv").is_file()
    assert not (kpi_only / "timeseries.parquet").exists()


def test_the_comparison_table_schema_is_compare_columns():
    from experiments import schemas
    from experiments.analysis import compare, sensitivity

    assert list(schemas.TABLES["comparison.csv"]) == compare.COLUMNS
    assert list(schemas.TABLES["sensitivity.csv"]) == sensitivity.COLUMNS


# --- publish reads through the same checks -------------------------------------------------------


def test_publish_skips_a_folder_with_a_wrong_type_naming_the_field(saved, tmp_path, capsys):
    root = tmp_path / "results"
    root.mkdir()
    _copy(saved, root, "good")
    bad = _copy(saved, root, "bad")
    _edit_json(bad, "manifest.json", _set("command", value=[1, None]))
    capsys.readouterr()
    assert _main("publish", str(root), str(tmp_path / "site")) == 0
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "'command.0' must be a string" in err
    assert (tmp_path / "site" / "good" / "index.html").is_file()
    assert not (tmp_path / "site" / "bad").exists()


def test_publish_names_what_a_rebuilt_report_leaves_out(saved, tmp_path, capsys):
    root = tmp_path / "results"
    root.mkdir()
    folder = _copy(saved, root, "run")
    (folder / report.REPORT_FILE).unlink()
    (folder / "timeseries.parquet").unlink()
    capsys.readouterr()
    assert _main("publish", str(root), str(tmp_path / "site")) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "timeseries.parquet is missing: the report has no charts" in err


def test_report_never_replaces_a_report_html_the_manifest_does_not_list(tmp_path, capsys):
    """A folder with some other program's manifest.json and the user's own report.html."""
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "My PWA"}')
    (folder / "report.html").write_text("mine")
    line = _report_fails(folder, capsys)
    assert "report.html" in line and "did not write" in line
    assert (folder / "report.html").read_text() == "mine"


def test_a_rebuilt_report_is_listed_in_the_results_manifest(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].remove("report.html")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "report.html").unlink()
    assert _main("report", str(folder)) == 0
    assert "report.html" in json.loads((folder / "manifest.json").read_text())["files"]


def test_results_left_half_replaced_are_refused_not_reported(saved, tmp_path, capsys):
    """A file-by-file update (a user's files beside the results) that stopped midway leaves the
    manifest marked "being replaced": the folder mixes two runs, so no report is built from it."""
    bad = _copy(saved, tmp_path)
    _edit_json(bad, "manifest.json", lambda d: d.update(state="being replaced"))
    line = _report_fails(bad, capsys)
    assert "mixes two runs" in line
