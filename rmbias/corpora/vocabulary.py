"""Shared-vocabulary and dictionary-term lookups read from the workflow's parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rmbias.corpora.dictionaries import normalize_term
from rmbias.io import read_parquet


def read_shared_decoded(token_table_paths: Sequence[str | Path]) -> set[str]:
    """The decoded strings present in every token table (the paper's shared vocabulary)."""
    tables = [set(read_parquet(path, columns=["decoded"])["decoded"]) for path in token_table_paths]
    return set.intersection(*tables) if tables else set()


def read_category_by_term(corpus_path: str | Path) -> dict[str, str]:
    """Normalized dictionary term (:func:`~rmbias.corpora.dictionaries.normalize_term`) → category."""
    corpus = read_parquet(corpus_path, columns=["term", "category"])
    return {normalize_term(term): category for term, category in zip(corpus["term"], corpus["category"])}
