"""The topk job: a configured RM's family comes from its config entry, not from its id; a token
counts in every category of its lexicon it is in."""

from __future__ import annotations

import pandas as pd
import pytest

from rmbias.corpora.vocabulary import read_category_by_term
from rmbias.implicit.topk import topk_statistics
from rmbias.io import InputError, write_parquet


def write_inputs(tmp_path, rms):
    tokens = tmp_path / "tokens.parquet"
    write_parquet(pd.DataFrame({"decoded": ["love", "power", "table"]}), tokens)
    corpus = tmp_path / "corpus.parquet"
    write_parquet(pd.DataFrame({"term": ["love", "power"], "category": ["Communion", "Agency"]}), corpus)
    scores = {}
    for rm in rms:
        scores[rm] = tmp_path / f"{rm}.parquet"
        write_parquet(pd.DataFrame({"response": ["love", "power", "table"], "best_ever_one": [3.0, 2.0, 1.0]}), scores[rm])
    return {"score_paths": scores, "token_table_paths": [tokens], "corpus_path": corpus, "prompt": "best_ever_one", "k": 2}


def test_configured_rm_whose_id_names_no_family_takes_its_config_family(tmp_path):
    """config/README.md's ArmoRM example, id ``armorm``: its family is its entry's, ``llama``; an RM
    without a configured family (a published one) keeps the family its name gives."""
    analysis = write_inputs(tmp_path, ["armorm", "Skywork-Reward-Gemma-2-27B"])
    outputs = [tmp_path / name for name in ("per_rm.csv", "per_family.csv", "topk.json")]
    topk_statistics(*outputs, families={"armorm": "Llama"}, **analysis)
    per_rm = pd.read_csv(outputs[0])
    assert per_rm.groupby("rm")["base_model"].first().to_dict() == {"Skywork-Reward-Gemma-2-27B": "Gemma", "armorm": "Llama"}
    assert per_rm.loc[per_rm["rm"] == "armorm", "count"].tolist() == [1, 1]  # love and power, its two best tokens
    assert set(pd.read_csv(outputs[1])["base_model"]) == {"Gemma", "Llama"}


def test_rm_without_a_family_is_one_line_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"model 'armorm': cannot tell its base model"):
        topk_statistics(*(tmp_path / name for name in ("a.csv", "b.csv", "c.json")), **write_inputs(tmp_path, ["armorm"]))


def test_a_token_of_several_categories_counts_in_each(tmp_path):
    # a membership lexicon may put a term in two categories: "love" is Communion and Care
    analysis = write_inputs(tmp_path, ["armorm"])
    write_parquet(pd.DataFrame({"term": ["love", "love", "power"], "category": ["Communion", "Care", "Agency"]}), analysis["corpus_path"])
    outputs = [tmp_path / name for name in ("per_rm.csv", "per_family.csv", "topk.json")]
    topk_statistics(*outputs, families={"armorm": "Llama"}, **analysis)
    counts = pd.read_csv(outputs[0]).set_index("category")["count"].to_dict()
    assert counts == {"Agency": 1, "Care": 1, "Communion": 1}


def test_an_analysis_of_one_category_per_term_names_a_term_of_several(tmp_path):
    corpus = tmp_path / "corpus.parquet"
    write_parquet(pd.DataFrame({"term": ["love", " Love", "power"], "category": ["Communion", "Care", "Agency"]}), corpus)
    with pytest.raises(InputError) as err:
        read_category_by_term(corpus)
    assert str(err.value) == (f"{corpus}: term 'love' is in categories Care, Communion (1 such term(s)); "
                              "this analysis puts each term in one category")
