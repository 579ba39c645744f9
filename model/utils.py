"""Helpers that make most state-update functions one line.

Policies return signals: `d_<variable>` is a change to add (cadCAD sums the signals of the
policies in one block, so several policies may move the same stock), and `<variable>` is a new
value to set (one policy per block emits it).
"""

from __future__ import annotations


def add_delta(variable: str):
    """State update: variable += signal['d_<variable>']."""
    key = "d_" + variable

    def update(params, substep, state_history, previous_state, policy_input):
        return variable, previous_state[variable] + policy_input[key]

    update.__name__ = update.__qualname__ = f"add_{variable}"
    return update


def set_value(variable: str):
    """State update: variable = signal['<variable>']."""

    def update(params, substep, state_history, previous_state, policy_input):
        return variable, policy_input[variable]

    update.__name__ = update.__qualname__ = f"set_{variable}"
    return update
