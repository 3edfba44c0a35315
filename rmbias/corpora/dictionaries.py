"""Psycholinguistic dictionaries unrolled into one long table per dictionary.

The three published dictionaries come in two layouts:

- ``big2_nouns``: a two-column CSV, ``Category`` (Agency/Communion) and ``token_decoded``.
- ``big2_expanded`` and ``mfd2`` (MFD 2.0, ``.dicx``): a membership matrix, one row per term
  (``DicTerm``) and one column per category holding ``X`` when the term belongs to it.

Both become the long table of design §3: one row per (term, category) with columns
``term``, ``category``, ``dictionary``. A term in several categories appears once per category.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pandas as pd

from rmbias.io import InputError, read_parquet, read_text_utf8

BIG2_CATEGORIES = ("Agency", "Communion")
MFD2_CATEGORIES = tuple(
    f"{foundation}_{side}"
    for foundation in ("Care", "Fairness", "Loyalty", "Authority", "Sanctity")
    for side in ("Virtue", "Vice")
)
DICTIONARY_FORMATS = {
    "big2_nouns": ("category_list", BIG2_CATEGORIES),
    "big2_expanded": ("membership_matrix", BIG2_CATEGORIES),
    "mfd2": ("membership_matrix", MFD2_CATEGORIES),
}
CORPUS_COLUMNS = ["term", "category", "dictionary"]


def normalize_term(text: str) -> str:
    """The dictionary form a decoded token is matched on: NFKD ascii-folded (non-ascii dropped),
    stripped, lowercased (" Café" → "cafe")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded.strip().lower()


def read_dictionary(path: str | Path, dictionary: str) -> pd.DataFrame:
    """Read one published dictionary file into the long table (term, category, dictionary).

    ``dictionary`` is one of :data:`DICTIONARY_FORMATS`. Terms are stripped of surrounding
    whitespace; rows are sorted by category then term so the output is deterministic.
    Raises :class:`InputError` naming the file for a non-UTF-8 byte, an empty file, missing or
    unexpected columns, an unknown category, or a membership cell other than ``X``/empty.
    """
    if dictionary not in DICTIONARY_FORMATS:
        raise InputError(f"unknown dictionary {dictionary!r}; known: {', '.join(DICTIONARY_FORMATS)}")
    layout, categories = DICTIONARY_FORMATS[dictionary]
    path = Path(path)
    text = read_text_utf8(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise InputError(f"{path}: not a valid CSV: {str(err).splitlines()[0]}") from err
    if table.empty:
        raise InputError(f"{path}: no rows")
    if layout == "category_list":
        long = _from_category_list(table, path, categories)
    else:
        long = _from_membership_matrix(table, path, categories)
    long["dictionary"] = dictionary
    long = long.drop_duplicates().sort_values(["category", "term"], kind="stable")
    return long.reset_index(drop=True)[CORPUS_COLUMNS]


def _from_category_list(table: pd.DataFrame, path: Path, categories: tuple[str, ...]) -> pd.DataFrame:
    _require_columns(table, path, ["Category", "token_decoded"])
    long = pd.DataFrame({"term": table["token_decoded"].str.strip(), "category": table["Category"].str.strip()})
    unknown = sorted(set(long["category"]) - set(categories))
    if unknown:
        raise InputError(f"{path}: unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}")
    if (long["term"] == "").any():
        row = int((long["term"] == "").to_numpy().argmax()) + 2
        raise InputError(f"{path}: empty term on line {row}")
    return long


def _from_membership_matrix(table: pd.DataFrame, path: Path, categories: tuple[str, ...]) -> pd.DataFrame:
    _require_columns(table, path, ["DicTerm", *categories])
    extra = [c for c in table.columns if c not in ("DicTerm", *categories)]
    if extra:
        raise InputError(f"{path}: unexpected column(s) {', '.join(extra)}")
    marks = table[list(categories)].apply(lambda col: col.str.strip())
    bad = ~marks.isin(["X", "x", "", "NA"])
    if bad.to_numpy().any():
        rows, cols = bad.to_numpy().nonzero()
        row, col = int(rows[0]), int(cols[0])
        raise InputError(
            f"{path}: line {row + 2}, column {categories[col]}: expected 'X' or empty, got {marks.iat[row, col]!r}"
        )
    member = marks.isin(["X", "x"])
    member.insert(0, "term", table["DicTerm"].str.strip())
    long = member.melt(id_vars="term", var_name="category", value_name="member")
    long = long[long["member"]].drop(columns="member")
    if long.empty:
        raise InputError(f"{path}: no term is marked 'X' in any category")
    return long


def _require_columns(table: pd.DataFrame, path: Path, expected: list[str]) -> None:
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns))})"
        )


def combine_corpora(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate corpus long tables (the dictionary-scope candidate set), rows deduplicated."""
    frames = [read_parquet(path, columns=CORPUS_COLUMNS) for path in paths]
    return pd.concat(frames, ignore_index=True).drop_duplicates().reset_index(drop=True)
