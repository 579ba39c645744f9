"""Print an NPY_DISABLE_CPU_FEATURES value that narrows numpy's dispatch on this machine.

numpy 1.26 picks its exp/log/power kernels by the CPU's features at import, so float results
differ in the last bits between CPUs (experiments/analysis/tolerances.py). `make test-cpu` runs
the engine and regression tests again with the value printed here, so one machine checks two
kernel choices. numpy refuses to disable a baseline feature (an error at import), only warns
about names it does not dispatch on, and silently accepts a feature the CPU lacks, which would
change nothing: so the list holds only features that are dispatched and present here. It is the
AVX-512 group where the CPU has it, otherwise the two highest dispatched features present (FMA3
and AVX2 on an x86 CPU without AVX-512). Measured on an AVX-512 Xeon with numpy 1.26.3: without
AVX-512 the vectorized engine's float64 results change in the last bits (they then equal
radCAD's); disabling AVX2, FMA3, AVX and the SSE4 group as well changes nothing more, so on a
CPU without AVX-512 the second run checks a different dispatch, not different float64 numbers.
A CPU with no dispatched feature at all leaves nothing to narrow: exit 1 with the reason, so CI
never passes a second run that was the first one again.

`--verify`: check, under the NPY_DISABLE_CPU_FEATURES of the environment, that every feature it
names is off in this process (exit 1 naming those still on, or an empty setting).
"""

from __future__ import annotations

import os
import sys

from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__


def narrowed(dispatch: list[str], present: dict[str, bool]) -> list[str]:
    """The features to disable: present and dispatched; the AVX-512 group first."""
    available = [name for name in dispatch if present.get(name)]
    avx512 = [name for name in available if name.startswith("AVX512")]
    return avx512 or available[-2:]


def verify(setting: str, features: dict[str, bool]) -> str | None:
    """What is wrong with a narrowed dispatch in this process, or None."""
    names = setting.split()
    if not names:
        return "NPY_DISABLE_CPU_FEATURES is empty: the dispatch is not narrowed"
    still_on = [name for name in names if features.get(name)]
    if still_on:
        return f"NPY_DISABLE_CPU_FEATURES left on: {' '.join(still_on)}"
    return None


def main(argv: list[str]) -> int:
    if argv[1:] == ["--verify"]:
        problem = verify(os.environ.get("NPY_DISABLE_CPU_FEATURES", ""), dict(__cpu_features__))
        if problem:
            print(f"narrowed_dispatch: {problem}", file=sys.stderr)
            return 1
        return 0
    features = narrowed(list(__cpu_dispatch__), dict(__cpu_features__))
    if not features:
        print(
            "narrowed_dispatch: numpy dispatches on none of this CPU's features "
            f"(dispatched: {' '.join(__cpu_dispatch__) or 'none'}): nothing to disable",
            file=sys.stderr,
        )
        return 1
    print(" ".join(features))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
