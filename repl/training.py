"""How `seq2seq-train` shows training: a live rich progress bar on stderr (epoch, step, loss,
samples/s, time left) and one line per epoch, through engine.training.train's `TrainingReport` hooks.
Imported only after TensorFlow has loaded (the callback is a Keras callback)."""

from __future__ import annotations

import math
import time

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.training.callbacks import EpochLines, TrainingReport
from repl.console import console


class RichTrainingReport(TrainingReport):
    """run_path: the run folder, named in the message after Ctrl-C (how to resume it)."""

    def __init__(self, run_path=None):
        self.run_path, self.live, self.status, self.counter = run_path, None, None, None
        self.message = ""

    def stage(self, message: str) -> None:
        """A spinner with what is being done (on a terminal only; gone when training starts)."""
        self._end_counter()
        self.message, self.started = message, time.perf_counter()
        if self.status is None:
            self.status = console.status(escape(message))
            self.status.start()
        else:
            self.status.update(escape(message))

    def count(self, done: int, total: int) -> None:
        """The stage's spinner becomes a bar: pairs done of total, pairs/s and time left (on a
        terminal only, like the spinner)."""
        if not console.is_terminal:
            return
        if self.counter is None:
            self._end_spinner()
            self.counter = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:,.0f} pairs/s"), TimeRemainingColumn(), console=console, transient=True,
            )
            self.counter.start()
            self.counted = self.counter.add_task(escape(self.message), total=total, rate=0.0)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.counter.update(self.counted, completed=done, total=total, rate=rate)

    def _end_counter(self) -> None:
        if self.counter is not None:
            self.counter.stop()
            self.counter = None

    def _end_spinner(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def _end_stage(self) -> None:
        self._end_counter()
        self._end_spinner()

    def close(self) -> None:
        self._end_stage()
        if self.live is not None:
            self.live.progress.stop()
            self.live = None

    def interrupted(self) -> str:
        return f"interrupted; the run is kept: resume it with  seq2seq-train --resume {self.run_path}"

    def say(self, message: str) -> None:
        self._end_stage()
        console.print(escape(message), soft_wrap=True)

    def warn(self, message: str) -> None:
        console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)

    def progress(self, steps_per_epoch, epochs, batch_size, resume_at=(None, 0), budgeted=False):
        self._end_stage()
        self.live = RichProgress(steps_per_epoch, epochs, batch_size, resume_at, self.say, budgeted)
        return self.live


class RichProgress(EpochLines):
    """A transient progress bar per epoch, and the epoch's summary line when it ends."""

    def __init__(self, steps_per_epoch: int, epochs: int, batch_size: int, resume_at=(None, 0), say=print, budgeted: bool = False):
        super().__init__(epochs, say, budgeted)
        self.steps, self.batch_size, self.resume_at = steps_per_epoch, batch_size, resume_at
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:,.0f} samples/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )

    def on_train_begin(self, logs=None):
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.seen = 0
        done = self.resume_at[1] if epoch == self.resume_at[0] else 0
        self.task = self.progress.add_task(
            "train", total=self.steps, completed=done, epoch=self.label(epoch), loss=math.nan, speed=0.0
        )

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        speed = self.seen * self.batch_size / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, advance=1, loss=float((logs or {}).get("loss", math.nan)), speed=speed)

    def on_epoch_end(self, epoch, logs=None):
        self.progress.remove_task(self.task)
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self.progress.stop()
