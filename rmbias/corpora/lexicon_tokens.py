"""Lexicon token tables: which terms of a lexicon each configured model's tokenizer produces as
one token, the candidates of the analyses that need single tokens (log-probability ranks,
checkpoint ranks, vocabulary scores).

A term matches a token when the token's normalized decoded string
(:func:`rmbias.corpora.dictionaries.normalize_term`, the token table's ``norm``) equals the
normalized term, so " Honest" and "honest" both stand for ``honest``.
"""

from __future__ import annotations

import os
from typing import Mapping

import pandas as pd

from rmbias.corpora.dictionaries import CORPUS_COLUMNS, normalize_term
from rmbias.io import InputError, read_parquet, write_parquet

LEXICON_TOKEN_COLUMNS = ["model", "token_id", "decoded", "term", "category"]


def lexicon_token_table(corpus: pd.DataFrame, token_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every (model, token) whose decoded string is a term of ``corpus``, once per category of the term.

    ``corpus``: a lexicon's long table (``term, category, dictionary``); ``token_tables``: model
    id -> its token table (``token_id, decoded, norm``). Returns :data:`LEXICON_TOKEN_COLUMNS`,
    sorted by model, category, term, token id. Raises :class:`InputError` naming the lexicon,
    the category and the model when a category of the lexicon has no such token in a model.
    """
    terms = corpus[["term", "category"]].assign(norm=corpus["term"].map(normalize_term))
    lexicon = ", ".join(sorted(corpus["dictionary"].unique()))
    frames = []
    for model, tokens in token_tables.items():
        matched = tokens[["token_id", "decoded", "norm"]].merge(terms, on="norm").assign(model=model)
        for category in sorted(set(terms["category"]) - set(matched["category"])):
            members = sorted(terms.loc[terms["category"] == category, "term"])
            raise InputError(f"lexicon {lexicon}: category {category} has no term that model {model}'s tokenizer "
                             f"produces as one token ({len(members)} term(s), e.g. {members[0]!r}); "
                             "the single-token analyses need one")
        frames.append(matched[LEXICON_TOKEN_COLUMNS])
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LEXICON_TOKEN_COLUMNS)
    return table.sort_values(["model", "category", "term", "token_id"], kind="stable").reset_index(drop=True)


def write_lexicon_token_table(corpus_path: str | os.PathLike, token_table_paths: Mapping[str, str | os.PathLike],
                              out_path: str | os.PathLike) -> pd.DataFrame:
    """:func:`lexicon_token_table` of the corpus at ``corpus_path`` and the token tables of
    ``token_table_paths`` (model id -> parquet), written atomically to ``out_path``; returned."""
    corpus = read_parquet(corpus_path, columns=CORPUS_COLUMNS)
    tables = {model: read_parquet(path, columns=["token_id", "decoded", "norm"]) for model, path in token_table_paths.items()}
    table = lexicon_token_table(corpus, tables)
    write_parquet(table, out_path)
    return table
