"""The second CI pass narrows numpy's CPU dispatch: the list it disables, and what it selects."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "narrowed_dispatch.py"


def _script():
    spec = importlib.util.spec_from_file_location("narrowed_dispatch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


X86 = ["SSSE3", "SSE41", "POPCNT", "SSE42", "AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512CD"]
X86 += ["AVX512_KNL", "AVX512_KNM", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL"]


def test_an_avx512_cpu_loses_only_the_avx512_features_it_has():
    present = {name: True for name in X86} | {"AVX512_KNL": False, "AVX512_KNM": False}
    assert _script().narrowed(X86, present) == [
        "AVX512F",
        "AVX512CD",
        "AVX512_SKX",
        "AVX512_CLX",
        "AVX512_CNL",
        "AVX512_ICL",
    ]


def test_a_cpu_without_avx512_still_loses_something_it_has():
    present = {name: not name.startswith("AVX512") for name in X86}
    assert _script().narrowed(X86, present) == ["FMA3", "AVX2"]
    arm = ["ASIMDHP", "ASIMDDP", "ASIMDFHM"]
    assert _script().narrowed(arm, {"ASIMDHP": True, "ASIMDDP": True}) == ["ASIMDHP", "ASIMDDP"]
    assert _script().narrowed(X86, {}) == []


def test_verify_refuses_an_empty_setting_or_a_feature_left_on():
    verify = _script().verify
    assert "empty" in verify("", {"AVX2": True})
    assert verify("AVX2 FMA3", {"AVX2": False, "FMA3": False}) is None
    assert verify("AVX2 FMA3", {"AVX2": False, "FMA3": True}).endswith("left on: FMA3")


def test_the_printed_setting_narrows_this_machine_without_a_warning():
    printed = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False
    )
    if printed.returncode == 1:  # no dispatched feature on this CPU: said, not silently passed
        assert "nothing to disable" in printed.stderr
        pytest.skip(printed.stderr.strip())
    setting = printed.stdout.strip()
    assert printed.returncode == 0 and setting
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=setting)
    checked = subprocess.run(
        [sys.executable, "-W", "error::ImportWarning", str(SCRIPT), "--verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""


def test_the_cross_engine_and_golden_tests_carry_the_engines_marker():
    # `make test-cpu` selects by the marker: these must be in the second pass
    import test_compare
    import test_regress
    import test_scenarios
    import test_vectorized

    selected = [
        test_compare.test_common_draws_give_every_subset_the_same_shocks_on_every_engine,
        test_scenarios.test_range_edges_vectorized_equals_radcad,
        test_vectorized.test_vectorized_equals_cadcad_on_every_column,
        test_vectorized.test_every_block_gives_each_trajectory_its_own_scalar_result,
    ]
    for test in selected:
        marks = [m.name for m in getattr(test, "pytestmark", [])]
        assert "engines" in marks, test.__name__
    assert test_regress.pytestmark.name == "engines"
