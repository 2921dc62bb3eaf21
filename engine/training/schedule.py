"""Learning-rate schedules of training, as Keras callbacks that set the rate before each
optimizer step from the optimizer's own step count (so a resumed run carries on with the very
same rates): a linear warm-up (`Warmup`), and the budget schedule (`BudgetDecay`) that falls to
a floor as the epochs or the time budget end."""

from __future__ import annotations

import time

import keras

from engine.runs import RunFolder
from engine.training.distribute import chief_value


def warmup_factor(step: int, steps: int) -> float:
    """The share of the learning rate at optimizer step `step` (0-based) of a linear warm-up over
    `steps` steps (0: none)."""
    return min(1.0, (step + 1) / steps) if steps else 1.0


class Warmup(keras.callbacks.Callback):
    """Raises the learning rate linearly from 0 to its configured value over the first `steps`
    optimizer steps (a Transformer's attention is unstable under full steps from random
    weights). It reads the optimizer's own step count, so a resumed run carries on where it was;
    after the warm-up it leaves the rate alone (ReduceLROnPlateau may lower it)."""

    def __init__(self, steps: int, learning_rate: float):
        super().__init__()
        self.steps, self.learning_rate = steps, learning_rate

    def on_train_begin(self, logs=None):
        self.done = int(self.model.optimizer.iterations.numpy())  # read once, then counted here

    def on_train_batch_begin(self, batch, logs=None):
        if self.done <= self.steps:
            self.model.optimizer.learning_rate.assign(self.learning_rate * warmup_factor(self.done, self.steps))

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1


class BudgetDecay(keras.callbacks.Callback):
    """The learning rate falls linearly from its configured value to `floor` of it over the
    whole training budget, reaching the floor as the budget ends (after an optional linear
    warm-up): with a known budget, a rate that ends low gives a better model at that budget than
    one held until progress stalls (Li et al., 2020, "Budgeted training").

    The budget in steps: epochs × steps per epoch, or with a time budget (--max-minutes) the
    whole epochs that fit in it at the first epoch's pace (validation included, as the budget
    counts it), rounded to the nearest: the run stops after the epoch in which the rate reaches
    its floor, within half an epoch of the budget, instead of training on at the floor until the
    first epoch that ends past it. That number is fixed once and written to run.json
    (`decay_steps`), and the rate is a function of the optimizer's step count: a resumed run goes
    on with the very same rates and stops after the same epoch."""

    def __init__(self, run: RunFolder, learning_rate: float, steps_per_epoch: int, epochs: int, max_minutes: float | None,
                 warmup_steps: int = 0, floor: float = 0.02, strategy=None, say=lambda message: None, expect=None):
        super().__init__()
        self.run, self.learning_rate, self.steps_per_epoch = run, learning_rate, steps_per_epoch
        self.epochs, self.max_minutes, self.warmup_steps, self.floor, self.strategy = epochs, max_minutes, warmup_steps, floor, strategy
        self.say, self.expect = say, expect  # expect(epochs): the progress is told the epochs the budget fits

    def on_train_begin(self, logs=None):
        self.done = int(self.model.optimizer.iterations.numpy())  # read once, then counted here
        self.total = self.run.facts().get("decay_steps")
        if self.total is None and self.max_minutes is None:
            self.total = self._fix(self.epochs * self.steps_per_epoch)
        elif self.total is not None and self.expect is not None:  # a resumed run: planned before
            self.expect(-(-self.total // self.steps_per_epoch))

    def _fix(self, total: int) -> int:
        total = max(1, int(total))
        self.run.update_facts(decay_steps=total)
        return total

    def rate(self, step: int) -> float:
        """The learning rate of optimizer step `step` (0-based)."""
        warm = warmup_factor(step, self.warmup_steps)
        left = 1.0 if self.total is None else max(self.floor, 1.0 - step / self.total)
        return self.learning_rate * warm * left

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started, self.started = time.perf_counter(), None

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.done))

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.started is None:  # the pace is timed after the first batch (which traces the step)
            self.started, self.first_step = time.perf_counter(), self.done

    def on_epoch_end(self, epoch, logs=None):
        if self.total is None and self.started is not None:  # a time budget's first epoch: the steps that fit
            now = time.perf_counter()
            seconds, spent = now - self.started, now - self.epoch_started + self.run.facts().get("training_seconds", 0.0)
            if self.strategy is not None:
                seconds, spent = chief_value(self.strategy, seconds), chief_value(self.strategy, spent)
            per_step = seconds / max(1, self.done - self.first_step)
            fit = self.done + max(0.0, self.max_minutes * 60 - spent) / per_step
            self.total = self._fix(max(1, round(fit / self.steps_per_epoch)) * self.steps_per_epoch)
            epochs = self.total // self.steps_per_epoch
            if self.expect is not None:
                self.expect(epochs)
            self.say(f"{epochs} epoch{'s' if epochs != 1 else ''} fit in the {self.max_minutes:g} min budget at this pace: training stops after epoch {epochs}")
        if self.max_minutes is not None and self.total is not None and self.done >= self.total:
            self.say(f"the learning rate has reached its floor at the end of the {self.max_minutes:g} min budget; stopping after epoch {epoch + 1}")
            self.model.stop_training = True
