"""Checks on the data frames the analyses and figures receive."""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from rmbias.io import InputError


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`InputError` naming ``what`` and every column of ``columns`` that ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")
