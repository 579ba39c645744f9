"""The typed contract: `State` and `Params` stay in step with the model, policies use them."""

import dataclasses
import inspect
import typing

from model import Parameters, initial_state, partial_state_update_blocks
from model.derived import DERIVED, with_derived
from model.types import Params, State

ENGINE_KEYS = {"_drivers"}


def _policies():
    return [p for block in partial_state_update_blocks for p in block["policies"].values()]


def test_state_lists_every_state_variable():
    assert set(State.__annotations__) == set(initial_state())


def test_params_lists_every_parameter_the_derived_entries_and_the_engine_keys():
    names = set(Parameters.names())
    assert set(Params.__annotations__) == names | set(DERIVED) | ENGINE_KEYS
    assert Params.__required_keys__ == names | set(DERIVED)
    assert Params.__optional_keys__ == ENGINE_KEYS
    assert set(with_derived(Parameters().to_dict())) == names | set(DERIVED)


def test_the_parameter_table_takes_each_unit_from_params():
    hints = typing.get_type_hints(Params, include_extras=True)
    info = Parameters.field_info()
    for name in Parameters.names():
        unit = hints[name].__metadata__[0]  # the one place a parameter's unit is written
        assert isinstance(unit, str) and unit, name
        assert info[name]["unit"] == unit, name
    assert info["pool_payout_rate"]["unit"] == "1/year"
    assert info["staking_requirement"]["unit"] == "SESH/node"


def test_each_parameters_unit_agrees_with_its_kind():
    # the kind is declared in model.parameters (type, choices, integer), the unit in Params:
    # switches are flags, choices are choices, and the integer parameters are day numbers
    info = Parameters.field_info()
    kinds = {f.name: f.type for f in dataclasses.fields(Parameters)}
    for name, meta in info.items():
        assert (kinds[name] == "bool") == (meta["unit"] == "bool"), name
        assert bool(meta["choices"]) == (meta["unit"] == "choice"), name
        assert meta["integer"] == (meta["unit"] == "day"), name


def test_every_state_variable_has_a_unit():
    hints = typing.get_type_hints(State, include_extras=True)
    assert all(hint.__metadata__ for hint in hints.values())


def test_every_policy_is_typed_and_says_what_it_decides():
    for policy in _policies():
        assert policy.__name__.startswith("policy_")
        hints = typing.get_type_hints(policy)
        assert hints["params"] is Params and hints["previous_state"] is State, policy.__name__
        doc = inspect.getdoc(policy)
        assert doc and "\n" not in doc, policy.__name__
