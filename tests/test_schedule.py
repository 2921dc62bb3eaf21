"""The budget learning-rate schedule (engine/training/schedule.py BudgetDecay): its rates, and the step
count it fixes once in run.json. Training with it, killed and resumed, is in test_train.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.runs import RunFolder
from engine.training.callbacks import EpochLines, RunBookkeeping
from engine.training.schedule import BudgetDecay


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


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_epochs(decay: BudgetDecay, clock: Clock, seconds_per_step: float, epochs: int) -> int:
    """Trains `epochs` epochs of fake steps on `clock`; returns the epochs run before a stop."""
    rates = []
    optimizer = SimpleNamespace(iterations=Optimizer.iterations, learning_rate=SimpleNamespace(assign=rates.append))
    model = SimpleNamespace(optimizer=optimizer, stop_training=False)
    decay.set_model(model)
    decay.on_train_begin()
    for epoch in range(epochs):
        decay.on_epoch_begin(epoch)
        for batch in range(decay.steps_per_epoch):
            decay.on_train_batch_begin(batch)
            clock.now += seconds_per_step
            decay.on_train_batch_end(batch)
        decay.on_epoch_end(epoch)
        if model.stop_training:
            return epoch + 1
    return epochs


@pytest.mark.parametrize("seconds_per_step, epochs", [(2.5, 2), (2.2, 3), (0.5, 12)])
def test_a_time_budget_is_fitted_to_whole_epochs_and_the_run_stops_when_the_rate_reaches_its_floor(
    tmp_path, monkeypatch, seconds_per_step, epochs
):
    """One minute at 10 steps an epoch: 2.4 epochs fit at 2.5 s a step (2 are trained), 2.7 at
    2.2 s (3), 12 at 0.5 s. The rate falls to its floor over exactly those epochs, then it stops."""
    clock = Clock()
    monkeypatch.setattr("engine.training.callbacks.time.perf_counter", clock)
    said, lines = [], EpochLines(60, say=print, budgeted=True)
    decay = schedule(tmp_path, max_minutes=1, epochs=60, say=said.append, expect=lines.expect)
    assert lines.label(0) == "1"  # the first epoch: how many fit is not known yet
    assert run_epochs(decay, clock, seconds_per_step, 60) == epochs
    assert lines.label(0) == f"1/{epochs}"  # the progress counts the epochs the budget fits, not the 60 allowed
    assert decay.total == decay.run.facts()["decay_steps"] == 10 * epochs
    assert decay.rate(decay.total - 1) < 0.1 * decay.rate(0) and decay.rate(decay.total) == pytest.approx(2e-3 * 0.02)
    assert said and f"stopping after epoch {epochs}" in said[-1]


def test_without_the_budget_schedule_the_progress_estimates_the_epochs_a_time_budget_fits(tmp_path, monkeypatch):
    """A recipe that stops at the first epoch past its --max-minutes (no budget schedule): after
    each epoch the count shown is the epochs that fit at that epoch's pace, marked as an estimate,
    and it is right when the pace holds (20 s epochs in one minute: 3)."""
    clock = Clock()
    monkeypatch.setattr("engine.training.callbacks.time.perf_counter", clock)
    run = RunFolder(tmp_path / "run")
    run.path.mkdir(parents=True)
    shown = []
    lines = EpochLines(60, say=shown.append, budgeted=True)
    keeper = RunBookkeeping(run, max_minutes=1, say=lambda message: None, expect=lines.expect)
    keeper.set_model(SimpleNamespace(stop_training=False))
    for epoch in range(60):
        for callback in (keeper, lines):
            callback.on_epoch_begin(epoch)
        clock.now += 20
        for callback in (keeper, lines):  # in make_callbacks' order: the bookkeeping first
            callback.on_epoch_end(epoch, {"loss": 1.0})
        if keeper.model.stop_training:
            break
    assert [line.split()[1] for line in shown] == ["1/~3", "2/~3", "3/~3"]
    assert EpochLines(8, budgeted=False).label(2) == "3/8"  # no time budget: the epochs asked for
