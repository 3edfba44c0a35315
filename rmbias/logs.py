"""Per-job logging for the workflow scripts: everything a job prints goes to its ``log:`` file.

Secrets never reach a log: the values of the Hugging Face token variables are replaced by
``[REDACTED]`` in every line written through :func:`job_log`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator, TextIO

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
    ends with its wall time in seconds, so every job's log says whether it finished. With ``path=None`` logs go to the process's stderr. An
    exception raised in the block is logged (one line, then the traceback) and re-raised so the
    job fails.
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
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            started = time.perf_counter()
            logger.info("job started (log %s)", path)
            try:
                yield logger
            except Exception as err:
                logger.error("%s: %s", type(err).__name__, err, exc_info=True)
                raise
            logger.info("job finished in %.1f s", time.perf_counter() - started)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        stream.flush()
        if close:
            handle.close()
