"""The demo world's preference data file: neutral synthetic pairs in a public schema."""

from __future__ import annotations

import json
import os
from typing import Mapping, Sequence

import pandas as pd

from rmbias.demo.world import shared_preference_pairs, word_pools
from rmbias.io import read_parquet, write_text
from rmbias.training.preferences import skywork_rows


def write_synthetic_preferences(corpus_paths: Sequence[str | os.PathLike], prompts: Mapping[str, Mapping[str, str]],
                                n: int, seed: int, out_path: str | os.PathLike) -> None:
    """The demo world's preference data: ``n`` neutral synthetic pairs written as Skywork JSONL.

    Pairs come from :func:`rmbias.demo.world.shared_preference_pairs` over the dictionaries'
    single-word pools (the words every demo family's tokenizer has), as for the demo world's
    own reward models; every training run reads this one file, so runs from different bases
    see identical pairs. Writing them in a public schema means training reads them through the
    same :func:`rmbias.training.preferences.read_preferences` path as real data.
    """
    corpora = pd.concat([read_parquet(p, columns=["term", "category", "dictionary"]) for p in corpus_paths])
    pairs = shared_preference_pairs(word_pools(corpora), dict(prompts), n, seed)
    write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in skywork_rows(pairs)), out_path)
