"""Lexicons (psycholinguistic dictionaries) unrolled into one long table per lexicon.

A lexicon is data declared in the config (key ``lexicons``; the paper's three dictionaries are
the built-ins of ``config/lexicons.yaml``): an ``id``, a ``file`` and its ``format``:

- ``long``: one row per (term, category), columns ``term_column`` and ``category_column``
  (``big2_nouns``: ``token_decoded`` and ``Category``);
- ``membership``: one row per term (``term_column``, MFD 2.0's ``DicTerm``) and one column per
  category holding ``X`` when the term belongs to it (``big2_expanded``, ``mfd2``).

Both become the long table of design §3: one row per (term, category) with columns ``term``,
``category``, ``dictionary`` (the lexicon's id). A term in several categories appears once per
category. A file that cannot serve an analysis stops with one line naming it
(:class:`~rmbias.io.InputError`): missing columns, an empty term, a category with no term, a
term in no category, a (term, category) row given twice in a long file, fewer than 2 categories.
"""

from __future__ import annotations

import copy
import functools
import io
import unicodedata
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rmbias.config import builtin_lexicons, load_yaml, SCHEMA_PATH
from rmbias.io import InputError, read_text_utf8

CORPUS_COLUMNS = ["term", "category", "dictionary"]
MEMBER_MARKS = ("X", "x")
EMPTY_MARKS = ("", "NA")


@functools.cache
def _builtin_lexicon_entries() -> dict[str, dict]:
    """Id -> entry of the built-in lexicons, read and validated once per process."""
    return {entry["id"]: entry for entry in builtin_lexicons(load_yaml(SCHEMA_PATH))}


def builtin_lexicon(lexicon_id: str) -> dict:
    """The entry of the built-in lexicon ``lexicon_id`` (``big2_nouns``, ``big2_expanded``, ``mfd2``), a copy."""
    entries = _builtin_lexicon_entries()
    if lexicon_id not in entries:
        raise InputError(f"unknown built-in lexicon {lexicon_id!r}; built-in: {', '.join(entries)}")
    return copy.deepcopy(entries[lexicon_id])


def normalize_term(text: str) -> str:
    """The dictionary form a decoded token is matched on: NFKD ascii-folded (non-ascii dropped),
    stripped, lowercased (" Café" → "cafe")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded.strip().lower()


def read_dictionary(path: str | Path, dictionary: str) -> pd.DataFrame:
    """:func:`read_lexicon` of the file at ``path`` as the built-in lexicon ``dictionary``."""
    return read_lexicon(path, builtin_lexicon(dictionary))


def read_lexicon(path: str | Path, lexicon: Mapping[str, Any]) -> pd.DataFrame:
    """Read one lexicon file into the long table (term, category, dictionary = the lexicon's id).

    ``lexicon`` is a validated lexicon entry (config/schema.yaml, definition ``lexicon``, defaults
    filled). Terms and categories are stripped of surrounding whitespace; rows are sorted by
    category then term, so the output is deterministic. Raises :class:`InputError` naming the
    file for a non-UTF-8 byte, an empty file, missing columns, an empty term, an unknown category
    (when the entry lists its ``categories``), a membership cell other than ``X``/empty, a
    category with no term, a term in no category, a duplicate (term, category) row of a long
    file, fewer than 2 categories, or a ``reference_category`` / ``category_groups`` that does not
    fit the categories. Under ``analyse_by: group`` the ``category`` column holds each category's
    group (:func:`category_groups`), at least 2 of them.
    """
    path = Path(path)
    text = read_text_utf8(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise InputError(f"{path}: not a valid CSV: {str(err).splitlines()[0]}") from err
    if table.empty:
        raise InputError(f"{path}: no rows")
    long = _from_long(table, path, lexicon) if lexicon["format"] == "long" else _from_membership(table, path, lexicon)
    categories = sorted(long["category"].unique())
    if len(categories) < 2:
        raise InputError(f"{path}: lexicon {lexicon['id']} has {len(categories)} category ({', '.join(categories)}); "
                         "its analyses compare categories, so it needs at least 2")
    if lexicon.get("analyse_by") == "group":
        long = _grouped(long, path, lexicon, categories)
        categories = sorted(long["category"].unique())
    _check_category_roles(path, lexicon, categories)
    long["dictionary"] = lexicon["id"]
    long = long.drop_duplicates().sort_values(["category", "term"], kind="stable")
    return long.reset_index(drop=True)[CORPUS_COLUMNS]


def _grouped(long: pd.DataFrame, path: Path, lexicon: Mapping[str, Any], categories: list[str]) -> pd.DataFrame:
    """The long table with each category replaced by its group (``analyse_by: group``); a term in
    two categories of one group is one row. Raises :class:`InputError` naming the file without
    ``category_groups`` or with fewer than 2 groups."""
    if "category_groups" not in lexicon:
        raise InputError(f"{path}: lexicon {lexicon['id']} is analysed by group (analyse_by: group) but declares no category_groups")
    grouped = long.assign(category=long["category"].map(category_groups(lexicon, categories, path))).drop_duplicates()
    groups = sorted(grouped["category"].unique())
    if len(groups) < 2:
        raise InputError(f"{path}: lexicon {lexicon['id']} is analysed by group but its categories make {len(groups)} group "
                         f"({', '.join(groups)}); its analyses compare groups, so it needs at least 2")
    return grouped


def _from_long(table: pd.DataFrame, path: Path, lexicon: Mapping[str, Any]) -> pd.DataFrame:
    term_column, category_column = lexicon["term_column"], lexicon["category_column"]
    _require_columns(table, path, [category_column, term_column])
    long = pd.DataFrame({"term": table[term_column].str.strip(), "category": table[category_column].str.strip()})
    for column, what in (("term", "term"), ("category", "category")):
        if (long[column] == "").any():
            raise InputError(f"{path}: empty {what} on line {int((long[column] == '').to_numpy().argmax()) + 2}")
    expected = lexicon.get("categories")
    unknown = sorted(set(long["category"]) - set(expected)) if expected else []
    if unknown:
        raise InputError(f"{path}: unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}")
    repeated = long.duplicated(keep="first")
    if repeated.any():
        row = int(repeated.to_numpy().argmax())
        term, category = long.iloc[row]
        first = int((long["term"].eq(term) & long["category"].eq(category)).to_numpy().argmax())
        raise InputError(f"{path}: line {row + 2} repeats term {term!r} in category {category} (first on line {first + 2})")
    return long


def _from_membership(table: pd.DataFrame, path: Path, lexicon: Mapping[str, Any]) -> pd.DataFrame:
    term_column = lexicon["term_column"]
    expected = lexicon.get("categories")
    _require_columns(table, path, [term_column, *(expected or [])])
    extra = [c for c in table.columns if c != term_column and expected and c not in expected]
    if extra:
        raise InputError(f"{path}: unexpected column(s) {', '.join(extra)}")
    categories = list(expected or [c for c in table.columns if c != term_column])
    terms = table[term_column].str.strip()
    if (terms == "").any():
        raise InputError(f"{path}: empty term on line {int((terms == '').to_numpy().argmax()) + 2}")
    marks = table[categories].apply(lambda col: col.str.strip())
    bad = ~marks.isin([*MEMBER_MARKS, *EMPTY_MARKS])
    if bad.to_numpy().any():
        rows, cols = bad.to_numpy().nonzero()
        row, col = int(rows[0]), int(cols[0])
        raise InputError(
            f"{path}: line {row + 2}, column {categories[col]}: expected 'X' or empty, got {marks.iat[row, col]!r}"
        )
    member = marks.isin(MEMBER_MARKS)
    empty_categories = [c for c in categories if not member[c].any()]
    if empty_categories:
        raise InputError(f"{path}: category {empty_categories[0]} has no term (no 'X' in its column)")
    unassigned = ~member.any(axis=1).to_numpy()
    if unassigned.any():
        row = int(unassigned.argmax())
        raise InputError(f"{path}: line {row + 2}: term {terms.iat[row]!r} is in no category (no 'X' in its row)")
    member.insert(0, "term", terms)
    long = member.melt(id_vars="term", var_name="category", value_name="member")
    return long[long["member"]].drop(columns="member")


def _require_columns(table: pd.DataFrame, path: Path, expected: list[str]) -> None:
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns))})"
        )


def _check_category_roles(path: Path, lexicon: Mapping[str, Any], categories: list[str]) -> None:
    """The ``reference_category`` is one of ``categories`` (the groups, under ``analyse_by: group``)
    and ``category_groups`` gives each file category a group."""
    reference, by_group = lexicon.get("reference_category"), lexicon.get("analyse_by") == "group"
    if reference is not None and reference not in categories:
        raise InputError(f"{path}: reference_category {reference!r} of lexicon {lexicon['id']} is not one of its "
                         f"{'groups' if by_group else 'categories'} ({', '.join(categories)})")
    if "category_groups" in lexicon and not by_group:
        category_groups(lexicon, categories, path)


def category_groups(lexicon: Mapping[str, Any], categories: list[str], path: str | Path = "") -> dict[str, str]:
    """Category -> group of ``categories`` under the lexicon's ``category_groups`` (``split``: the
    name's part before the separator, ``Care_Virtue`` -> ``Care``; ``map``: as given); without
    one, each category is its own group. Raises :class:`InputError` (naming ``path`` and the
    lexicon) for a category the rule gives no group."""
    rule = lexicon.get("category_groups")
    if rule is None:
        return {category: category for category in categories}
    if "split" in rule:
        ungrouped = [c for c in categories if rule["split"] not in c]
        groups = {c: c.split(rule["split"], 1)[0] for c in categories if c not in ungrouped}
    else:
        ungrouped = [c for c in categories if c not in rule["map"]]
        groups = {c: rule["map"][c] for c in categories if c not in ungrouped}
    if ungrouped:
        raise InputError(f"{path}: category_groups of lexicon {lexicon['id']} give category {ungrouped[0]} no group")
    return groups
