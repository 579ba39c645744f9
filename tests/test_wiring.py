"""Dead configuration: every state variable is updated, every parameter is read."""

from experiments.engines.draws import TrajectoryDraws
from experiments.engines.vectorized import block_signal
from model import Parameters, initial_state, partial_state_update_blocks
from model.derived import DERIVED, with_derived
from model.stochastic import DRIVERS


class RecordingDict(dict):
    """A params dict that remembers which keys were read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


class RecordingParameters:
    """Forwards attribute reads to a Parameters object and remembers them."""

    def __init__(self, parameters):
        self._parameters = parameters
        self.read = set()

    def __getattr__(self, name):
        if name in Parameters.names():
            self.read.add(name)
        return getattr(self._parameters, name)


def _step_all_blocks(params, state, days):
    for day in range(days):
        state["timestep"] = day
        for substep, block in enumerate(partial_state_update_blocks, start=1):
            signal = block_signal(params, substep, state, block["policies"].values())
            state = dict(state)
            for update in block["variables"].values():
                name, value = update(params, substep, [], state, signal)
                state[name] = value
    return state


def test_every_state_variable_is_updated_by_some_block():
    updated = set()
    for block in partial_state_update_blocks:
        updated |= set(block["variables"])
    assert updated == set(initial_state())


def test_every_block_has_a_label_and_description():
    labels = [block["label"] for block in partial_state_update_blocks]
    assert labels == [
        "vesting",
        "governance",
        "foundation",
        "spend",
        "emissions",
        "rewards",
        "staking",
        "market",
        "metrics",
    ]
    assert all(len(block["description"]) > 20 for block in partial_state_update_blocks)


def test_every_update_names_its_own_variable():
    state = initial_state()
    for block in partial_state_update_blocks:
        signal = block_signal(
            _params(), 1, dict(state, run=1, timestep=0), block["policies"].values()
        )
        for variable, update in block["variables"].items():
            assert update(_params(), 1, [], state, signal)[0] == variable


def _raw_params(**overrides):
    params = Parameters(**overrides).to_dict()
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=2000)
    return params


def _params(**overrides):
    return with_derived(_raw_params(**overrides))


def test_every_parameter_is_read_by_some_function():
    # a horizon past the POL review and the first unlock (day 90), with a stress day, names
    # deployed and the pool_only model, so every branch's inputs are read (the model skips work
    # on the parameters: names not deployed, no trajectory on pool_only, nothing unlocking)
    settings = dict(
        stress_day=30,
        pol_review_day=40,
        sns_deployed=True,
        price_model="pool_only",
        gov_rule_on=True,  # the requirement rule's inputs are read only when it is on
    )
    recording = RecordingParameters(Parameters(**settings))
    state = dict(initial_state(recording), run=1)
    raw = RecordingDict(_raw_params(**settings))  # what the derived entries read
    params = RecordingDict(with_derived(raw))  # what the policies read
    _step_all_blocks(params, state, days=100)
    unread = set(Parameters.names()) - raw.read - params.read - recording.read
    assert not unread, f"parameters no function reads: {sorted(unread)}"
    unused = set(DERIVED) - params.read
    assert not unused, f"derived entries no policy reads: {sorted(unused)}"


def test_derived_entries_are_not_parameters_and_are_all_there():
    assert not set(DERIVED) & set(Parameters.names())
    params = _params()
    assert set(params) == set(_raw_params()) | set(DERIVED)


def test_every_driver_is_used():
    import model.stochastic as stochastic

    used = set()
    original = stochastic.shock

    def spy(params, state, name):
        used.add(name)
        return original(params, state, name)

    import model.parts.market as market
    import model.parts.spending as spending
    import model.parts.staking as staking

    modules = (market, spending, staking)
    for module in modules:
        module.shock = spy
    try:
        _step_all_blocks(_params(), dict(initial_state(), run=1), days=3)
    finally:
        for module in modules:
            module.shock = original
    assert used == set(DRIVERS)
