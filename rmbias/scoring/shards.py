"""Shards of an exhaustive search: (prompt, block of candidates), each one parquet file.

A shard's file name carries a fingerprint of everything that determines its rewards, so a
rerun reuses finished shards, recomputes truncated or stale ones, and never takes a shard of
other inputs for its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rmbias.io import parquet_is_complete, read_parquet
from rmbias.models.conversations import BOS_MODES
from rmbias.models.loading import ModelSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Candidates ``[start, stop)`` of one prompt, stored at ``path`` (one float32 column ``reward``)."""

    prompt_key: str
    start: int
    stop: int
    path: Path


def directory_identity(directory: str | os.PathLike) -> list[Any]:
    """Each file's name, size and modification time under ``directory`` (empty if it is no directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [[str(path.relative_to(directory)), path.stat().st_size, path.stat().st_mtime_ns]
            for path in sorted(directory.rglob("*")) if path.is_file()]


def model_identity(spec: ModelSpec) -> list[Any]:
    """What determines a model's rewards besides the prompt and response: its entry's hf, revision,
    dtype, type and score, and, for a local directory, :func:`directory_identity` (so a model
    rebuilt at the same path is a different model); its rendering options (template variables,
    BOS mode) only when they differ from the defaults, so shards of a default entry keep their names."""
    rendering = [{"chat_template_kwargs": dict(spec.chat_template_kwargs), "bos": spec.bos}]
    default_rendering = not spec.chat_template_kwargs and spec.bos == BOS_MODES[0]
    return [spec.hf, spec.revision, spec.dtype, spec.type, spec.score, *directory_identity(spec.hf),
            *([] if default_rendering else rendering)]


def plan_shards(shard_dir: str | os.PathLike, spec: ModelSpec, method: str, prompts: Mapping[str, str],
                responses: list[str], shard_size: int, extra_identity: Sequence[Any] = ()) -> list[Shard]:
    """Every shard of the run, prompt by prompt, block by block.

    A shard's file name holds a fingerprint of :func:`model_identity`, the method, the prompt text
    and the block's responses, so a shard left by a run with other inputs is never taken for
    this run's. ``extra_identity`` adds what else determines the rewards (e.g. a LoRA checkpoint's files).
    """
    identity = [model_identity(spec), method, *extra_identity]
    shards = []
    for prompt_key, prompt in prompts.items():
        for block, start in enumerate(range(0, len(responses), shard_size)):
            stop = min(start + shard_size, len(responses))
            content = json.dumps([identity, prompt, responses[start:stop]], ensure_ascii=True)
            fingerprint = hashlib.sha256(content.encode("ascii")).hexdigest()[:16]
            path = Path(shard_dir) / prompt_key / f"{block:06d}-{fingerprint}.parquet"
            shards.append(Shard(prompt_key, start, stop, path))
    return shards


def read_shard(shard: Shard) -> np.ndarray | None:
    """The shard's rewards, or None when its file is missing, truncated, corrupt or of the wrong length."""
    if not shard.path.exists():
        return None
    if parquet_is_complete(shard.path):
        table = read_parquet(shard.path)
        if list(table.columns) == ["reward"] and len(table) == shard.stop - shard.start:
            return table["reward"].to_numpy(dtype=np.float32)
    logger.warning("shard %s is truncated or malformed; recomputing it", shard.path)
    return None
