"""The one output contract of every statistics job under ``results/stats/``.

Every statistics job (Figure 1 reanalysis, Figure 2 statistics, top-k, training dynamics,
published ablations) writes its tables as CSV and each declared JSON file as one *record*,
all through :func:`write_statistics`. A record is a JSON object::

    {
      "analysis":    "fig2_instruct_welch",   # which analysis (the JSON file's stem)
      "description": "...",                   # one sentence: what was tested, on which observations
      "tests":       [<test entry>, ...],     # possibly empty (a means table, top-k counts, warnings)
      "<name>":      ...                      # named non-test content, e.g. "model", "means", "warnings"
    }

Every test entry, in every job, has exactly the keys of :data:`TEST_KEYS`:

``test`` (str)
    Name of the test, e.g. ``"Welch t"``, ``"3-way ANOVA, type II (OLS)"``, ``"Kendall tau-b"``.
``statistic`` (float or null)
    The test statistic in its own units (t, F, tau); null when undefined.
``df`` (float or null)
    Degrees of freedom of the statistic (the numerator df for F); null for tests without df.
``p`` (float or null)
    Uncorrected p-value in [0, 1] (two-sided for t and tau).
``correction`` (str)
    The multiple-comparison correction applied across the record's tests and what it spans,
    e.g. ``"bonferroni over panels"``; ``"none"`` when none.
``p_adjusted`` (float or null)
    The p-value after ``correction``; null when ``correction`` is ``"none"``.
``inputs`` (object)
    What the test was computed from: sample sizes (``n_Gemma``), group means in the data's
    units (median-rank units), the compared checkpoints, resampling settings. Values are
    numbers or strings.
``cell`` (object)
    Labels of the cell, panel or run the test belongs to, e.g. ``{"category": "Agency",
    "framing": "positive"}``; ``{}`` when the test covers all the data.
``term`` (str or null)
    The model term tested by a regression or ANOVA (R's name, e.g. ``"base_modelLlama"``).
``estimate``, ``se`` (float or null)
    Coefficient estimate and its standard error, in response units (regression tests only).
``effect_size`` (object)
    Named effect sizes, e.g. ``{"d_pooled": -0.39, "d_average": -0.40}``; ``{}`` when none.

NaN and infinities are written as null. :func:`validate_record` checks this shape.
"""

from __future__ import annotations

import json
import logging
import numbers
import os
from typing import Mapping, Sequence

import pandas as pd

from rmbias.frames import require_columns
from rmbias.io import InputError, read_text_utf8, sanitize_for_json, write_csv, write_json

logger = logging.getLogger(__name__)

RECORD_KEYS = ("analysis", "description", "tests")
"""Keys every record has; any other key holds named non-test content."""

TEST_KEYS = ("test", "statistic", "df", "p", "correction", "p_adjusted", "inputs", "cell", "term", "estimate", "se", "effect_size")
"""The keys of every test entry, in this order."""

_NUMBER_KEYS = ("statistic", "df", "p", "p_adjusted", "estimate", "se")
_OBJECT_KEYS = ("inputs", "cell", "effect_size")


def statistic_entry(
    test: str,
    statistic: float | None,
    p: float | None,
    *,
    df: float | None = None,
    correction: str = "none",
    p_adjusted: float | None = None,
    inputs: Mapping[str, object] | None = None,
    cell: Mapping[str, object] | None = None,
    term: str | None = None,
    estimate: float | None = None,
    se: float | None = None,
    effect_size: Mapping[str, float] | None = None,
) -> dict:
    """One test entry with every key of :data:`TEST_KEYS` (absent values null or ``{}``)."""
    return {
        "test": test,
        "statistic": statistic,
        "df": df,
        "p": p,
        "correction": correction,
        "p_adjusted": p_adjusted,
        "inputs": dict(inputs or {}),
        "cell": dict(cell or {}),
        "term": term,
        "estimate": estimate,
        "se": se,
        "effect_size": dict(effect_size or {}),
    }


def entries_from_table(
    frame: pd.DataFrame,
    *,
    test: str,
    statistic: str,
    p: str,
    df: str | None = None,
    correction: str = "none",
    p_adjusted: str | None = None,
    inputs: Sequence[str] = (),
    cell: Sequence[str] = (),
    term: str | None = None,
    estimate: str | None = None,
    se: str | None = None,
    effect_size: Sequence[str] = (),
) -> list[dict]:
    """One :func:`statistic_entry` per row of a result table; every argument but ``test`` and
    ``correction`` names the column(s) of ``frame`` that fill that key."""
    named = [statistic, p, *(c for c in (df, p_adjusted, term, estimate, se) if c), *inputs, *cell, *effect_size]
    require_columns(frame, named, f"records of {test}")

    def value(row: Mapping[str, object], column: str | None) -> object:
        return row[column] if column else None

    return [
        statistic_entry(
            test,
            row[statistic],
            row[p],
            df=value(row, df),
            correction=correction,
            p_adjusted=value(row, p_adjusted),
            inputs={column: row[column] for column in inputs},
            cell={column: row[column] for column in cell},
            term=value(row, term),
            estimate=value(row, estimate),
            se=value(row, se),
            effect_size={column: row[column] for column in effect_size},
        )
        for row in frame.to_dict(orient="records")
    ]


def statistics_record(analysis: str, description: str, tests: Sequence[Mapping[str, object]], **content: object) -> dict:
    """A record: ``analysis``, ``description``, ``tests`` and the named non-test ``content``."""
    clash = sorted(set(content) & set(RECORD_KEYS))
    if clash:
        raise InputError(f"record {analysis}: content key(s) {', '.join(clash)} are reserved")
    return {"analysis": analysis, "description": description, "tests": list(tests), **content}


def _is_number_or_null(value: object) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def validate_record(record: Mapping[str, object]) -> None:
    """Raise :class:`InputError` unless ``record`` (as read back from JSON) has the shape of this module's docstring."""
    name = record.get("analysis", "<unnamed>") if isinstance(record, Mapping) else "<not an object>"
    if not isinstance(record, Mapping) or any(key not in record for key in RECORD_KEYS):
        raise InputError(f"record {name}: needs keys {', '.join(RECORD_KEYS)}")
    if not isinstance(record["analysis"], str) or not isinstance(record["description"], str):
        raise InputError(f"record {name}: analysis and description must be strings")
    if not isinstance(record["tests"], list):
        raise InputError(f"record {name}: tests must be a list")
    for index, entry in enumerate(record["tests"]):
        where = f"record {name}, test {index}"
        if not isinstance(entry, Mapping) or tuple(entry) != TEST_KEYS:
            keys = list(entry) if isinstance(entry, Mapping) else type(entry).__name__
            raise InputError(f"{where}: keys {keys} are not {list(TEST_KEYS)}")
        if not isinstance(entry["test"], str) or not isinstance(entry["correction"], str):
            raise InputError(f"{where}: test and correction must be strings")
        if entry["term"] is not None and not isinstance(entry["term"], str):
            raise InputError(f"{where}: term must be a string or null")
        bad_numbers = [key for key in _NUMBER_KEYS if not _is_number_or_null(entry[key])]
        if bad_numbers:
            raise InputError(f"{where}: {', '.join(bad_numbers)} must be numbers or null")
        for key in ("p", "p_adjusted"):
            if entry[key] is not None and not 0 <= entry[key] <= 1:
                raise InputError(f"{where}: {key} = {entry[key]} is not in [0, 1]")
        if (entry["correction"] == "none") != (entry["p_adjusted"] is None):
            raise InputError(f"{where}: p_adjusted must be given exactly when a correction is named")
        bad_objects = [key for key in _OBJECT_KEYS if not isinstance(entry[key], Mapping)]
        if bad_objects:
            raise InputError(f"{where}: {', '.join(bad_objects)} must be objects")
        if not all(_is_number_or_null(v) for v in entry["effect_size"].values()):
            raise InputError(f"{where}: effect sizes must be numbers or null")


def write_statistics(
    record: Mapping[str, object],
    json_path: str | os.PathLike,
    tables: Mapping[str | os.PathLike, pd.DataFrame] | None = None,
) -> None:
    """Validate ``record`` and write it to ``json_path``, and each table to its CSV path.

    Every file is written atomically (temporary name, then rename); nothing is written when the
    record does not validate.
    """
    clean = sanitize_for_json(dict(record))
    validate_record(clean)
    for path, frame in (tables or {}).items():
        write_csv(frame, path)
    write_json(clean, json_path)
    logger.info("wrote %s (%d tests) and %d table(s)", json_path, len(clean["tests"]), len(tables or {}))


def read_record(json_path: str | os.PathLike) -> dict:
    """Read a record written by :func:`write_statistics`, checked by :func:`validate_record`."""
    try:
        record = json.loads(read_text_utf8(json_path))
    except json.JSONDecodeError as err:
        raise InputError(f"{json_path}: not valid JSON ({err})") from err
    validate_record(record)
    return record
