"""File input/output with two guarantees: writes are atomic, and bad input fails with one line.

Every output of the workflow is written to a temporary file next to its destination and
renamed into place only when complete, so a killed job never leaves a half-written file
that a later run would mistake for a finished one. Every reader turns a malformed file
into an :class:`InputError` whose message names the file and the problem.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(ValueError):
    """Bad input (config, data file, model) that the user must fix; the message is one line."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file keeps the destination's suffix so that writers which dispatch on the
    extension (plotnine, pandas) behave as for the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` (a model,
    a checkpoint), so a killed job never leaves a half-written directory behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def save_pretrained_atomically(model, tokenizer, directory: str | os.PathLike,
                               provenance: Mapping[str, Any] | None = None) -> None:
    """``save_pretrained`` a Hugging Face model and its tokenizer into ``directory`` through
    :func:`atomic_directory`, so a killed job never leaves a half-written model behind;
    ``provenance`` (where the weights came from) is written beside them as ``rmbias_provenance.json``."""
    with atomic_directory(directory) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if provenance is not None:
            write_json(provenance, Path(tmp) / "rmbias_provenance.json")


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` (index dropped) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` (index dropped) to ``path`` atomically.

    Every non-numeric field is quoted, so strings holding a bare carriage return, a comma or
    a quote (decoded tokens do) read back unchanged.
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC)


def write_json(obj: object, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN and inf written as null)."""
    text = json.dumps(sanitize_for_json(obj), indent=2, default=_json_default, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def sanitize_for_json(obj: object) -> object:
    """Replace float NaN/inf (anywhere in nested dicts/lists) with None so JSON stays valid."""
    if isinstance(obj, dict):
        return {k: sanitize_for_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize_for_json(v) for v in obj]
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return sanitize_for_json(obj.item())
    return obj


def read_parquet(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a parquet file, reading only ``columns`` when given (column projection).

    Raises :class:`InputError` naming the file when it is missing, truncated or corrupt, or
    lacks a requested column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable parquet file (truncated or corrupt): {_first_line(err)}") from err
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable parquet file (truncated or corrupt): {_first_line(err)}") from err


def read_csv(path: str | os.PathLike, **options) -> pd.DataFrame:
    """Read a CSV written by this workflow (or a published one); unreadable → :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable CSV ({_first_line(err)})") from err


def read_wide_scores(path: str | os.PathLike, prompt_keys: Sequence[str] | None = None) -> pd.DataFrame:
    """A wide score table in the published CSV layout: ``response`` kept verbatim as text (" Love",
    "NA" and "null" stay strings) and one float column per prompt key (an empty cell is NaN).

    ``prompt_keys`` are the score columns required and kept, in that order (None: every column
    but ``response``). Raises :class:`InputError` naming the file when it is unreadable, lacks
    ``response`` or a prompt column, or holds a non-numeric score.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable score CSV ({_first_line(err)})") from err
    keys = list(prompt_keys) if prompt_keys is not None else [c for c in table.columns if c != "response"]
    missing = [c for c in ["response", *keys] if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    scores = {}
    for key in keys:
        try:
            scores[key] = pd.to_numeric(table[key].replace("", float("nan")))
        except ValueError as err:
            raise InputError(f"{path}: non-numeric score in column {key}") from err
    return pd.concat([table[["response"]], pd.DataFrame(scores)], axis=1)


def parquet_is_complete(path: str | os.PathLike) -> bool:
    """True when ``path`` exists and its footer and every row group can be read."""
    try:
        pq.read_table(path)
    except (pa.ArrowInvalid, OSError):
        return False
    return True


def read_text_utf8(path: str | os.PathLike) -> str:
    """Read a text file that must be UTF-8 (a leading BOM is dropped) and non-empty."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path}: not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); re-save the file as UTF-8"
        ) from err
    if not text.strip():
        raise InputError(f"{path}: file is empty")
    return text


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
