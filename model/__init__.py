"""A cadCAD system-dynamics model of the Session Token (SESH) economy, one step per day from TGE."""

from model.parameters import ParameterError, Parameters
from model.psubs import partial_state_update_blocks
from model.state import initial_state

__all__ = [
    "Parameters",
    "ParameterError",
    "initial_state",
    "partial_state_update_blocks",
]
