"""The budget learning-rate schedule (engine/callbacks.py BudgetDecay): its rates, and the step
count it fixes once in run.json. Training with it, killed and resumed, is in test_train.py."""

from __future__ import annotations

import pytest

from engine.callbacks import BudgetDecay
from engine.runs import RunFolder


def schedule(tmp_path, **kwargs) -> BudgetDecay:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir(parents=True)
    settings = dict(learning_rate=2e-3, steps_per_epoch=10, epochs=5, max_minutes=None) | kwargs
    return BudgetDecay(run, **settings)


class Optimizer:
    class iterations:  # noqa: N801 (stands in for the optimizer's step counter variable)
        @staticmethod
        def numpy():
            return 0


class Model:
    optimizer = Optimizer


def started(decay: BudgetDecay) -> BudgetDecay:
    decay.set_model(Model)
    decay.on_train_begin()
    return decay


def test_an_epoch_budget_falls_linearly_to_the_floor_and_is_written_once(tmp_path):
    decay = started(schedule(tmp_path))
    assert decay.total == 50 and decay.run.facts()["decay_steps"] == 50
    assert decay.rate(0) == pytest.approx(2e-3)
    assert decay.rate(25) == pytest.approx(1e-3)
    assert decay.rate(49) == pytest.approx(2e-3 * 0.02)  # never below the floor
    assert decay.rate(500) == pytest.approx(2e-3 * 0.02)
    # a resumed run reads the same budget back, whatever its own settings say
    again = started(BudgetDecay(decay.run, 2e-3, steps_per_epoch=99, epochs=99, max_minutes=None))
    assert again.total == 50 and again.rate(25) == decay.rate(25)


def test_a_time_budget_holds_the_rate_until_its_first_epoch_has_measured_the_pace(tmp_path):
    decay = started(schedule(tmp_path, max_minutes=12))
    assert decay.total is None and "decay_steps" not in decay.run.facts()
    assert decay.rate(0) == decay.rate(300) == pytest.approx(2e-3)


def test_warm_up_comes_first(tmp_path):
    decay = started(schedule(tmp_path, warmup_steps=10))
    assert decay.rate(0) == pytest.approx(2e-4)
    assert decay.rate(9) == pytest.approx(2e-3 * (1 - 9 / 50))
