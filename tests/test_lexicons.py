"""Lexicons declared in the config: both file formats, the one-line errors of bad files, the
config's lexicon ids, the single-token check of the lexicon token tables."""

import copy

import numpy as np
import pandas as pd
import pytest

from rmbias.config import SCHEMA_PATH, builtin_lexicons, declared_lexicons, load_prompts, load_yaml, validate_config
from rmbias.corpora.dictionaries import category_groups, read_lexicon
from rmbias.corpora.lexicon_tokens import lexicon_token_table, write_lexicon_token_table
from rmbias.io import InputError, write_parquet
from rmbias.statistics.figure1 import analyse_observations
from rmbias.statistics.rm_level import contrast_categories

SCHEMA = load_yaml(SCHEMA_PATH)
PROMPTS = load_prompts(SCHEMA_PATH.with_name("prompts.yaml"), load_yaml(SCHEMA_PATH.with_name("prompts_schema.yaml")))


def lexicon(**keys):
    """A lexicon entry with the schema's defaults."""
    return {"id": "virtues", "file": "x.csv", "format": "long", "term_column": "term", "category_column": "category",
            "category_name": "Category", **keys}


def test_long_lexicon_reads_into_the_corpus_table(tmp_path):
    path = tmp_path / "virtues.csv"
    path.write_text("term,category,note\nhonest, Honesty,a\nbrave,Courage,\nkind,Kindness,\nbold,Courage,\n", encoding="utf-8")
    table = read_lexicon(path, lexicon())
    assert list(table.columns) == ["term", "category", "dictionary"]
    assert list(zip(table["term"], table["category"])) == [
        ("bold", "Courage"), ("brave", "Courage"), ("honest", "Honesty"), ("kind", "Kindness")]
    assert (table["dictionary"] == "virtues").all()


def test_membership_lexicon_takes_every_other_column_as_a_category(tmp_path):
    path = tmp_path / "virtues.dicx"
    path.write_text("word,Honesty,Courage\nhonest,X,\nbrave,,X\nfrank,X,X\n", encoding="utf-8")
    table = read_lexicon(path, lexicon(format="membership", term_column="word"))
    assert sorted(zip(table["term"], table["category"])) == [
        ("brave", "Courage"), ("frank", "Courage"), ("frank", "Honesty"), ("honest", "Honesty")]


@pytest.mark.parametrize(
    "content, keys, message",
    [
        ("word,category\nhonest,Honesty\n", {}, "missing column(s) term"),
        ("term,category\nhonest,Honesty\nbrave,Courage\nhonest,Honesty\n", {}, "line 4 repeats term 'honest' in category Honesty (first on line 2)"),
        ("term,category\nhonest,Honesty\nfrank,Honesty\n", {}, "has 1 category (Honesty)"),
        ("term,category\nhonest,Honesty\n,Courage\n", {}, "empty term on line 3"),
        ("term,category\nhonest,Honesty\nbrave,Courage\n", {"reference_category": "Kindness"}, "reference_category 'Kindness'"),
        ("term,category\nhonest,Honesty\nbrave,Courage\n", {"category_groups": {"map": {"Honesty": "truth"}}},
         "give category Courage no group"),
        ("term,Honesty,Courage\nhonest,X,\nbrave,,\nbold,,X\n", {"format": "membership"}, "line 3: term 'brave' is in no category"),
        ("term,Honesty,Courage,Kindness\nhonest,X,,\nbrave,,X,\n", {"format": "membership"}, "category Kindness has no term"),
        ("term,Honesty\nhonest,X\nfrank,X\n", {"format": "membership"}, "has 1 category (Honesty)"),
        ("term,Honesty,Courage\nhonest,yes,\n", {"format": "membership"}, "line 2, column Honesty: expected 'X' or empty"),
        ("term,Honesty\nhonest,X\n", {"format": "membership", "categories": ["Honesty", "Courage"]}, "missing column(s) Courage"),
        ("term,category\nhonest,Honesty\nbrave,Courage\n", {"analyse_by": "group"}, "is analysed by group (analyse_by: group) but declares no category_groups"),
        ("term,category\nhonest,Care_Virtue\ncruel,Care_Vice\n", {"analyse_by": "group", "category_groups": {"split": "_"}},
         "is analysed by group but its categories make 1 group (Care)"),
        ("term,category\nhonest,Care_Virtue\nfair,Fairness_Virtue\n", {"analyse_by": "group", "category_groups": {"split": "_"},
                                                                        "reference_category": "Care_Virtue"},
         "reference_category 'Care_Virtue' of lexicon virtues is not one of its groups (Care, Fairness)"),
    ],
)
def test_bad_lexicon_file_is_one_line_naming_it(tmp_path, content, keys, message):
    path = tmp_path / "lexicon.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_lexicon(path, lexicon(**keys))
    text = str(err.value)
    assert str(path) in text and message in text, text
    assert "\n" not in text


def test_category_groups_split_and_map():
    mfd = next(entry for entry in builtin_lexicons(SCHEMA) if entry["id"] == "mfd2")
    assert category_groups(mfd, ["Care_Virtue", "Care_Vice"]) == {"Care_Virtue": "Care", "Care_Vice": "Care"}
    mapped = lexicon(category_groups={"map": {"Honesty": "truth", "Courage": "will"}})
    assert category_groups(mapped, ["Courage", "Honesty"]) == {"Courage": "will", "Honesty": "truth"}
    assert category_groups(lexicon(), ["Courage"]) == {"Courage": "Courage"}


def test_a_lexicon_analysed_by_group_compares_its_category_groups(tmp_path):
    # an MFD-like lexicon: foundation x virtue/vice, analysed by foundation (virtue and vice together)
    path = tmp_path / "foundations.csv"
    path.write_text("term,Care_Virtue,Care_Vice,Fairness_Virtue,Fairness_Vice\nkind,X,,,\ncruel,,X,,\nfair,,,X,\n"
                    "cheat,,,,X\ncompassion,X,X,,\n", encoding="utf-8")
    by_group = read_lexicon(path, lexicon(format="membership", category_groups={"split": "_"}, analyse_by="group",
                                          reference_category="Care"))
    assert sorted(zip(by_group["term"], by_group["category"])) == [
        ("cheat", "Fairness"), ("compassion", "Care"), ("cruel", "Care"), ("fair", "Fairness"), ("kind", "Care")]
    by_category = read_lexicon(path, lexicon(format="membership", category_groups={"split": "_"}))
    assert set(by_category["category"]) == {"Care_Virtue", "Care_Vice", "Fairness_Virtue", "Fairness_Vice"}
    assert len(by_category) == 6  # "compassion" in both Care categories


def minimal_config(**keys):
    return {"scoring": {}, **copy.deepcopy(keys)}


def test_builtin_lexicons_are_declared_in_every_config():
    config = minimal_config(lexicons=[{"id": "virtues", "file": "config/lexicons/v.csv", "format": "long"}],
                            scoring={"dictionary_corpora": ["big2_expanded", "virtues"]})
    validate_config(config, copy.deepcopy(SCHEMA), PROMPTS, manifest={"files": {}})
    declared = declared_lexicons(config, builtin_lexicons(SCHEMA))
    assert list(declared) == ["big2_nouns", "big2_expanded", "mfd2", "virtues"]
    assert declared["virtues"]["term_column"] == "term" and declared["big2_nouns"]["term_column"] == "token_decoded"
    # a label names a lexicon in figures and captions: the built-ins have theirs, any other its id
    assert (declared["big2_nouns"]["label"], declared["mfd2"]["label"], declared["virtues"]["label"]) == ("Big Two nouns", "MFD 2.0", "virtues")


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"scoring": {"dictionary_corpora": ["big2_nouns", "virtue"]}},
         "config error at scoring.dictionary_corpora[1]: unknown lexicon 'virtue' (declared: big2_nouns, big2_expanded, mfd2)"),
        ({"lexicons": [{"id": "mfd2", "file": "a.csv", "format": "long"}]}, "config error at lexicons[0].id: 'mfd2' is a built-in lexicon"),
        ({"lexicons": [{"id": "v", "file": "a.csv", "format": "long"}, {"id": "v", "file": "b.csv", "format": "long"}]},
         "config error at lexicons[1].id: duplicate lexicon id 'v'"),
        ({"lexicons": [{"id": "v", "file": "a.csv", "format": "wide"}]}, "config error at lexicons[0].format"),
        ({"lexicons": [{"id": "v", "file": "a.csv", "format": "long", "categories": ["A", "B"], "reference_category": "C"}]},
         "config error at lexicons[0].reference_category: 'C' is not one of its categories (A, B)"),
        ({"lexicons": [{"id": "plain", "file": "a.csv", "format": "long"}]}, "config error at lexicons[0].id: 'plain' is reserved"),
        ({"implicit": {"fig2_lexicons": ["big2_nouns", "virtues"]}},
         "config error at implicit.fig2_lexicons[1]: unknown lexicon 'virtues' (declared: big2_nouns, big2_expanded, mfd2)"),
        ({"implicit": {"topk_lexicon": "mfd"}}, "config error at implicit.topk_lexicon: unknown lexicon 'mfd'"),
        ({"lexicons": [{"id": "v", "file": "a.csv", "format": "long", "analyse_by": "group"}]},
         "config error at lexicons[0].analyse_by: group needs the lexicon's category_groups"),
    ],
)
def test_config_lexicon_mistakes_are_one_line(keys, message):
    with pytest.raises(InputError) as err:
        validate_config(minimal_config(**keys), copy.deepcopy(SCHEMA), PROMPTS, manifest={"files": {}})
    assert str(err.value).startswith(message), str(err.value)


def token_table(decoded):
    return pd.DataFrame({"token_id": range(len(decoded)), "piece": decoded, "decoded": decoded,
                         "norm": [d.strip().lower() for d in decoded]})


CORPUS = pd.DataFrame({"term": ["honest", "truthful", "brave", "kind"], "category": ["Honesty", "Honesty", "Courage", "Kindness"],
                       "dictionary": "virtues"})


def test_lexicon_token_table_lists_each_models_single_tokens_of_the_lexicon():
    tables = {"m1": token_table([" honest", "Honest", " brave", " kind", " table"]), "m2": token_table(["truthful", "brave", "kind"])}
    table = lexicon_token_table(CORPUS, tables)
    assert list(table.columns) == ["model", "token_id", "decoded", "term", "category"]
    assert sorted(table.loc[table["model"] == "m1", "decoded"]) == [" brave", " honest", " kind", "Honest"]
    assert set(table.loc[table["model"] == "m2", "category"]) == {"Honesty", "Courage", "Kindness"}


def test_a_category_no_model_token_covers_stops_the_lexicon_token_table(tmp_path):
    paths = {}
    for model, decoded in {"m1": [" honest", " brave", " kind"], "m2": [" honest", " kind"]}.items():
        paths[model] = tmp_path / f"{model}.parquet"
        write_parquet(token_table(decoded), paths[model])
    corpus = tmp_path / "virtues.parquet"
    write_parquet(CORPUS, corpus)
    out = tmp_path / "out" / "virtues.parquet"
    with pytest.raises(InputError) as err:
        write_lexicon_token_table(corpus, paths, out)
    assert str(err.value) == ("lexicon virtues: category Courage has no term that model m2's tokenizer produces as one "
                              "token (1 term(s), e.g. 'brave'); the single-token analyses need one")
    assert not out.parent.exists() or not any(out.parent.iterdir())  # nothing written, not even a temporary file


def three_category_observations(seed=0):
    """Figure 1 observations of a 3-category lexicon, 3 Gemma and 3 Llama RMs; Llama ranks Courage
    10 ranks better under positive prompts."""
    rng = np.random.default_rng(seed)
    families = {"g1": "Gemma", "g2": "Gemma", "g3": "Gemma", "l1": "Llama", "l2": "Llama", "l3": "Llama"}
    rows = [
        dict(rm=rm, base_model=family, prompt=f"{framing}_{i}", framing=framing, category=category,
             median_rank=float(rng.uniform(20, 60)) - (10.0 if (family, category, framing) == ("Llama", "Courage", "positive") else 0.0),
             n_ranked=40)
        for rm, family in families.items() for framing in ("positive", "negative") for i in range(4)
        for category in ("Courage", "Honesty", "Kindness")
    ]
    return pd.DataFrame(rows)


def test_a_generic_lexicon_is_analysed_with_its_reference_category_and_factor_name():
    obs = three_category_observations()
    analysis = analyse_observations(obs, n_resamples=99, star_p="rm_level", category_r_name="Virtue", reference_category="Honesty")
    assert contrast_categories(analysis.rm_contrasts) == ["Honesty", "Courage", "Kindness"]
    assert "diff_positive_Courage_minus_Honesty" in analysis.rm_contrasts.columns
    terms = set(analysis.mixed_model.fixed_effects["term"])
    assert {"VirtueCourage", "VirtueKindness"} <= terms and "VirtueHonesty" not in terms
    assert set(analysis.maximal_model.fixed_effects["term"]) == terms
    model_terms = analysis.rm_level[analysis.rm_level["kind"] == "model_term"]
    assert set(model_terms["term"]) == {t for t in terms if t.startswith("base_model")}  # the family terms, one for one
    default = analyse_observations(obs, n_resamples=99, star_p="rm_level", category_r_name="Virtue")
    assert "VirtueHonesty" in set(default.mixed_model.fixed_effects["term"])  # default reference: Courage, alphabetically first
