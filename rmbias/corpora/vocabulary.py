"""Shared-vocabulary and dictionary-term lookups read from the workflow's parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rmbias.corpora.dictionaries import normalize_term
from rmbias.io import InputError, read_parquet


def read_shared_decoded(token_table_paths: Sequence[str | Path]) -> set[str]:
    """The decoded strings present in every token table (the paper's shared vocabulary)."""
    tables = [set(read_parquet(path, columns=["decoded"])["decoded"]) for path in token_table_paths]
    return set.intersection(*tables) if tables else set()


def read_categories_by_term(corpus_path: str | Path) -> dict[str, tuple[str, ...]]:
    """Normalized dictionary term (:func:`~rmbias.corpora.dictionaries.normalize_term`) → its
    categories, sorted (a membership lexicon may put a term in several)."""
    corpus = read_parquet(corpus_path, columns=["term", "category"])
    categories: dict[str, set[str]] = {}
    for term, category in zip(corpus["term"], corpus["category"]):
        categories.setdefault(normalize_term(term), set()).add(category)
    return {term: tuple(sorted(members)) for term, members in categories.items()}


def read_category_by_term(corpus_path: str | Path) -> dict[str, str]:
    """Normalized dictionary term → its one category, for analyses that put each token in one
    category; :class:`InputError` naming the corpus and a term that is in several."""
    categories = read_categories_by_term(corpus_path)
    shared = sorted(term for term, members in categories.items() if len(members) > 1)
    if shared:
        raise InputError(f"{corpus_path}: term {shared[0]!r} is in categories {', '.join(categories[shared[0]])} "
                         f"({len(shared)} such term(s)); this analysis puts each term in one category")
    return {term: members[0] for term, members in categories.items()}
