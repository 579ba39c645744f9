"""Unit type aliases.

They document what a number holds; every one is a plain float (or a numpy array of them when the
vectorized engine runs many trajectories at once), so the same functions serve both engines.
"""

from __future__ import annotations

import numpy as np

Number = float | np.ndarray

SESH = Number  # tokens, whole units (the contract's 9 decimals are below model resolution)
ETH = Number  # quote-asset reserve of the Uniswap pool
USD = Number
USD_per_SESH = Number
USD_per_ETH = Number
SESH_per_day = Number
USD_per_day = Number
Share = Number  # a fraction in [0, 1]
Per_year = Number  # an annual rate, e.g. 0.151
Per_day = Number
Days = Number
Nodes = Number  # whole nodes, held as floats so arrays stay homogeneous
