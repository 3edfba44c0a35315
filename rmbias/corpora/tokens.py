"""Token tables: every token of a vocabulary as the response string it stands for (design §3),
and the record of every rendered prompt a model sees.

The table is what the exhaustive token search iterates over and what joins vocabularies of
different model families: tokens are matched across tokenizers by their decoded string,
and to dictionary terms by the normalized form (ascii, stripped, lowercased).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import pandas as pd

from rmbias.corpora.dictionaries import normalize_term
from rmbias.io import write_csv, write_parquet
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_renderer, load_tokenizer, prompt_texts

TOKEN_TABLE_COLUMNS = ["token_id", "piece", "decoded", "norm"]


def decode_each(tokenizer: Any, token_ids: list[int]) -> list[str]:
    """Each token id decoded on its own, as the string it adds to a response (leading space kept)."""
    return tokenizer.batch_decode([[token_id] for token_id in token_ids], skip_special_tokens=False,
                                  clean_up_tokenization_spaces=False)


def special_token_ids(tokenizer: Any) -> set[int]:
    """Ids of the named special tokens and of every added token flagged special (e.g. reserved ones)."""
    added = {token_id for token_id, token in tokenizer.added_tokens_decoder.items() if token.special}
    return set(tokenizer.all_special_ids) | added


def token_table(tokenizer: Any) -> pd.DataFrame:
    """One row per non-special token, ordered by id: token_id, piece, decoded, norm.

    ``piece`` is the vocabulary entry ("▁Love", "ĠLove"), ``decoded`` the token decoded alone as
    a response string (" Love"), ``norm`` its :func:`normalize` form ("love").
    """
    specials = special_token_ids(tokenizer)
    token_ids = [token_id for token_id in range(len(tokenizer)) if token_id not in specials]
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


def write_token_table(entry: Mapping[str, Any], out_path: str | os.PathLike) -> None:
    """Build the token table of the model ``entry``'s tokenizer and write it to ``out_path`` (parquet)."""
    write_parquet(token_table(load_tokenizer(ModelSpec.from_entry(entry))), out_path)


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
