"""Per-job logging for the workflow scripts: everything a job prints goes to its ``log:`` file.

Secrets never reach a log: the values of the Hugging Face token variables are replaced by
``[REDACTED]`` in every line written through :func:`job_log`. Bad input
(:class:`~rmbias.io.InputError`) ends a job with one line, any other error with its traceback.
Long training loops report where they are through :class:`TrainingProgress`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator, TextIO

from rmbias.io import InputError

SECRET_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")


def _secrets() -> list[str]:
    return [os.environ[name] for name in SECRET_VARIABLES if os.environ.get(name)]


class RedactingStream:
    """A text stream wrapper that replaces secret values before writing to ``target``."""

    def __init__(self, target: TextIO, secrets: list[str]):
        self._target = target
        self._secrets = secrets

    def write(self, text: str) -> int:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def job_log(path: str | os.PathLike | None) -> Iterator[logging.Logger]:
    """Send ``logging`` records, stdout and stderr to ``path`` (appending) for the block.

    Yields the ``rmbias`` logger. The log gets a line when the block starts and one when it
    ends with its wall time in seconds, so every job's log says whether it finished. With
    ``path=None`` logs go to the process's stderr. An :class:`~rmbias.io.InputError` raised in
    the block (bad input the user must fix) is logged as one line, ``InputError: <message>``,
    and ends the process with exit status 1 and the line ``rmbias: <message>`` on stderr, no
    traceback; any other exception is logged (one line, then the traceback) and re-raised so
    the job fails.
    """
    logger = logging.getLogger("rmbias")
    if path is None:
        handle: TextIO = sys.stderr
        close = False
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", encoding="utf-8")
        close = True
    stream = RedactingStream(handle, _secrets())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    input_error = None
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            started = time.perf_counter()
            logger.info("job started (log %s)", path)
            try:
                yield logger
            except InputError as err:
                input_error = " ".join(str(err).split("\n"))
                logger.error("InputError: %s", input_error)
            except Exception as err:
                logger.error("%s: %s", type(err).__name__, err, exc_info=True)
                raise
            else:
                logger.info("job finished in %.1f s", time.perf_counter() - started)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        stream.flush()
        if close:
            handle.close()
    if input_error is not None:
        raise SystemExit(f"rmbias: {input_error}" if close else 1)


def progress_line(step: int, total_steps: int, loss: float, learning_rate: float, examples_per_s: float) -> str:
    """One training progress line, e.g. ``step 40/200 loss 0.4123 lr 1.8e-04 12.3 examples/s``:
    the optimizer step done of the run's total, the mean loss (nats), the learning rate and the
    training examples (preference pairs for a reward model) per second of training time."""
    return f"step {step}/{total_steps} loss {loss:.4f} lr {learning_rate:.1e} {examples_per_s:.1f} examples/s"


class TrainingProgress:
    """Where a training loop stands: a :func:`progress_line` every ``every`` (>= 1) optimizer steps and
    at the last step (``total_steps``), each over the steps since the previous line: the mean
    loss per example, the learning rate of the latest step and examples per second of the
    steps' own time (checkpoint writes and evaluations excluded). A resumed run reports from
    the step it resumes from."""

    def __init__(self, logger: logging.Logger, total_steps: int, every: int):
        self.logger = logger
        self.total_steps = total_steps
        self.every = every
        self._reset()

    def _reset(self) -> None:
        self._loss_sum = 0.0
        self._examples = 0
        self._seconds = 0.0

    def step(self, step: int, loss: float, examples: int, seconds: float, learning_rate: float) -> None:
        """Record optimizer step ``step`` (counted from 1): ``examples`` examples of mean
        ``loss`` in ``seconds`` at ``learning_rate``; log a line when the step is due."""
        self._loss_sum += loss * examples
        self._examples += examples
        self._seconds += seconds
        if step % self.every and step != self.total_steps:
            return
        rate = self._examples / self._seconds if self._seconds > 0 else float("nan")
        self.logger.info(progress_line(step, self.total_steps, self._loss_sum / max(self._examples, 1), learning_rate, rate))
        self._reset()
