"""Token tables: every token of a vocabulary as the response string it stands for (design §3),
and the record of every rendered prompt a model sees.

The table is what the exhaustive token search iterates over and what joins vocabularies of
different model families: tokens are matched across tokenizers by their decoded string,
and to dictionary terms by the normalized form (ascii, stripped, lowercased).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping

import pandas as pd

from rmbias.config import prompt_texts
from rmbias.corpora.dictionaries import normalize_term
from rmbias.io import write_csv, write_parquet
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_renderer, load_tokenizer

logger = logging.getLogger(__name__)

TOKEN_TABLE_COLUMNS = ["token_id", "piece", "decoded", "norm"]
PLACEHOLDER_PIECE = re.compile(r"\[PAD\d+\]|<unused\d+>|<\|reserved_special_token_\d+\|>")
"""Vocabulary entries that stand for no text: the padding entries a GGUF conversion adds to fill
the embedding matrix (``[PAD151665]``), Gemma's ``<unusedN>`` and Llama 3's reserved tokens."""
PLACEHOLDER_TOKENS = ("exclude", "keep")


def decode_each(tokenizer: Any, token_ids: list[int]) -> list[str]:
    """Each token id decoded on its own, as the string it adds to a response (leading space kept)."""
    return tokenizer.batch_decode([[token_id] for token_id in token_ids], skip_special_tokens=False,
                                  clean_up_tokenization_spaces=False)


def special_token_ids(tokenizer: Any) -> set[int]:
    """Ids of the named special tokens and of every added token flagged special (e.g. reserved ones)."""
    added = {token_id for token_id, token in tokenizer.added_tokens_decoder.items() if token.special}
    return set(tokenizer.all_special_ids) | added


def non_special_token_ids(tokenizer: Any) -> list[int]:
    """Every token id of ``tokenizer`` that is not a special token (:func:`special_token_ids`), ascending."""
    specials = special_token_ids(tokenizer)
    return [token_id for token_id in range(len(tokenizer)) if token_id not in specials]


def placeholder_token_ids(tokenizer: Any, token_ids: list[int]) -> set[int]:
    """The ids among ``token_ids`` whose vocabulary entry is a :data:`PLACEHOLDER_PIECE`."""
    pieces = tokenizer.convert_ids_to_tokens(token_ids)
    return {token_id for token_id, piece in zip(token_ids, pieces) if PLACEHOLDER_PIECE.fullmatch(piece)}


def table_token_ids(tokenizer: Any, placeholder_tokens: str = "exclude") -> tuple[list[int], list[int]]:
    """(the ids a token table of ``tokenizer`` lists, the placeholder ids among its non-special
    tokens), both ascending: placeholders (:data:`PLACEHOLDER_PIECE`) are listed only when
    ``placeholder_tokens`` is ``"keep"``."""
    if placeholder_tokens not in PLACEHOLDER_TOKENS:
        raise ValueError(f"placeholder_tokens must be one of {PLACEHOLDER_TOKENS}, not {placeholder_tokens!r}")
    token_ids = non_special_token_ids(tokenizer)
    placeholders = placeholder_token_ids(tokenizer, token_ids)
    if placeholder_tokens == "exclude":
        token_ids = [token_id for token_id in token_ids if token_id not in placeholders]
    return token_ids, sorted(placeholders)


def token_table(tokenizer: Any, placeholder_tokens: str = "exclude") -> pd.DataFrame:
    """One row per non-special token, ordered by id: token_id, piece, decoded, norm.

    ``piece`` is the vocabulary entry ("▁Love", "ĠLove"), ``decoded`` the token decoded alone as
    a response string (" Love"), ``norm`` its :func:`normalize` form ("love"). Placeholder entries
    (:data:`PLACEHOLDER_PIECE`) are left out unless ``placeholder_tokens`` is ``"keep"``.
    """
    return _token_rows(tokenizer, table_token_ids(tokenizer, placeholder_tokens)[0])


def _token_rows(tokenizer: Any, token_ids: list[int]) -> pd.DataFrame:
    decoded = decode_each(tokenizer, token_ids)
    return pd.DataFrame({
        "token_id": pd.Series(token_ids, dtype="int64"),
        "piece": tokenizer.convert_ids_to_tokens(token_ids),
        "decoded": decoded,
        "norm": [normalize_term(text) for text in decoded],
    })


def vocab_intersection(a: pd.DataFrame, b: pd.DataFrame, suffixes: tuple[str, str] = ("_a", "_b")) -> pd.DataFrame:
    """Decoded strings present in both token tables: decoded, token_id{suffix_a}, token_id{suffix_b}.

    Where several tokens of one vocabulary decode to the same string, the lowest id stands for
    it. Rows follow the order of the strings' first appearance in ``a``.
    """
    first_a = a.sort_values("token_id", kind="stable").drop_duplicates("decoded")[["decoded", "token_id"]]
    first_b = b.sort_values("token_id", kind="stable").drop_duplicates("decoded")[["decoded", "token_id"]]
    shared = first_a.merge(first_b, on="decoded", how="inner", suffixes=suffixes)
    return shared.reset_index(drop=True)


def write_token_table(entry: Mapping[str, Any], out_path: str | os.PathLike, placeholder_tokens: str = "exclude") -> None:
    """Build the token table of the model ``entry``'s tokenizer and write it to ``out_path``
    (parquet), logging how many placeholder tokens it left out or kept (``placeholder_tokens``)."""
    spec = ModelSpec.from_entry(entry)
    tokenizer = load_tokenizer(spec)
    token_ids, placeholders = table_token_ids(tokenizer, placeholder_tokens)
    table = _token_rows(tokenizer, token_ids)
    examples = ", ".join(tokenizer.convert_ids_to_tokens(placeholders[:2] + placeholders[-1:])) if placeholders else ""
    logger.info("%s: %d tokens in the table; %d placeholder tokens (not real vocabulary%s) %s", spec.id, len(table),
                len(placeholders), f", e.g. {examples}" if placeholders else "",
                "kept (scoring.placeholder_tokens: keep)" if placeholder_tokens == "keep" else "left out")
    write_parquet(table, out_path)


RENDERED_PROMPT_COLUMNS = ["model", "prompt", "text", "n_tokens", "token_ids"]


def rendered_prompts(renderer: Renderer, model_id: str, prompts: Mapping[str, Any]) -> pd.DataFrame:
    """What model ``model_id`` sees for each prompt before a response: the rendered text and its token ids.

    Built with the renderer the log-probabilities and the search use (the entry's
    :class:`~rmbias.models.conversations.Renderer`). One row per prompt key, columns
    :data:`RENDERED_PROMPT_COLUMNS` (``token_ids`` space-separated).
    """
    rows = []
    for key, text in prompt_texts(prompts).items():
        ids = renderer.encode_rendered(text)
        rows.append({"model": model_id, "prompt": key, "text": renderer.render(text),
                     "n_tokens": len(ids), "token_ids": " ".join(map(str, ids))})
    return pd.DataFrame(rows, columns=RENDERED_PROMPT_COLUMNS)


def write_rendered_prompts(entry: Mapping[str, Any], prompts: Mapping[str, Any], out_path: str | os.PathLike) -> None:
    """:func:`rendered_prompts` of the model ``entry`` (its renderer only, no weights), written as CSV to ``out_path``."""
    spec = ModelSpec.from_entry(entry)
    write_csv(rendered_prompts(load_renderer(spec), spec.id, prompts), out_path)
