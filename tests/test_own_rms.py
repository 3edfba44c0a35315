"""Figure 1 of the configured RMs (rmbias.statistics.figure1.own_figure1_statistics) from dictionary-scope score tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rmbias.io import InputError, read_csv, write_parquet
from rmbias.records import read_record
from rmbias.statistics.figure1_outputs import MIXED_MODEL_COLUMNS, own_figure1_statistics
from rmbias.statistics.group_tests import panel_test_columns
from rmbias.statistics.rm_level import rm_level_test_columns

PROMPTS = {
    "best_ever_one": {"text": "best?", "framing": "positive"},
    "greatest_world_single": {"text": "greatest?", "framing": "positive"},
    "worst_ever_one": {"text": "worst?", "framing": "negative"},
    "bad_time_please": {"text": "bad?", "framing": "negative"},
}
AGENCY = [f"agency{i}" for i in range(8)]
COMMUNION = [f"communion{i}" for i in range(8)]
OTHER_TERMS = ["mfd-only-term"]  # in the dictionary scope, not in the analysed dictionary
OUTPUT_KEYS = (
    "observations", "mixed_model_json", "mixed_model_csv", "maximal_model_json", "maximal_model_csv", "evidence_json", "evidence_csv",
    "panel_tests_json", "panel_tests_csv", "means_json", "means_csv", "rm_contrasts_csv", "rm_level_json", "rm_level_csv",
)


def corpus_file(tmp_path) -> str:
    corpus = pd.DataFrame(
        {"term": AGENCY + COMMUNION, "category": ["Agency"] * 8 + ["Communion"] * 8, "dictionary": "big2_nouns"}
    )
    path = tmp_path / "big2_nouns.parquet"
    write_parquet(corpus, path)
    return str(path)


def score_table(family: str, seed: int) -> pd.DataFrame:
    """A dictionary-scope table: Llama RMs reward agency under positive prompts, Gemma RMs communion."""
    rng = np.random.default_rng(seed)
    terms = AGENCY + COMMUNION + OTHER_TERMS
    favoured = AGENCY if family == "llama" else COMMUNION
    columns = {"response": terms}
    for key, prompt in PROMPTS.items():
        planted = np.array([2.0 if (term in favoured and prompt["framing"] == "positive") else 0.0 for term in terms])
        columns[key] = (planted + rng.normal(0, 1, len(terms))).astype("float32")
    return pd.DataFrame(columns)


def write_scores(tmp_path, families: dict[str, str], edit=None) -> dict[str, str]:
    paths = {}
    for seed, (rm, family) in enumerate(families.items()):
        table = score_table(family, seed)
        if edit is not None and rm == next(iter(families)):
            table = edit(table)
        paths[rm] = str(tmp_path / f"{rm}.parquet")
        write_parquet(table, paths[rm])
    return paths


def outputs_in(tmp_path) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return {key: str(out / key.replace("_json", ".json").replace("_csv", ".csv").replace("observations", "observations.parquet")) for key in OUTPUT_KEYS}


def run(tmp_path, families: dict[str, str], edit=None, star_p="permutation"):
    outputs = outputs_in(tmp_path)
    analysis = own_figure1_statistics(
        outputs,
        "fig1_big2_own",
        score_paths=write_scores(tmp_path, families, edit),
        families=families,
        corpus_path=corpus_file(tmp_path),
        prompts=PROMPTS,
        mfd_scheme=None,
        n_permutations=99,
        seed=0,
        star_p=star_p,
    )
    return analysis, outputs


TWO_BY_TWO = {"own-llama-a": "llama", "own-llama-b": "llama", "own-gemma-a": "gemma", "own-gemma-b": "gemma"}


def test_own_scores_give_the_published_files_and_find_the_planted_direction(tmp_path):
    analysis, outputs = run(tmp_path, TWO_BY_TWO)
    assert list(read_csv(outputs["mixed_model_csv"]).columns) == list(MIXED_MODEL_COLUMNS)
    assert list(read_csv(outputs["panel_tests_csv"]).columns) == panel_test_columns()
    obs = analysis.observations
    assert set(obs["base_model"]) == {"Gemma", "Llama"} and set(obs["n_ranked"]) == {16}
    # the dictionary-scope term outside the analysed dictionary is not ranked
    means = analysis.means.set_index(["framing", "category"])
    assert means.loc[("positive", "Agency"), "Llama"] < means.loc[("positive", "Agency"), "Gemma"]
    three_way = analysis.mixed_model.fixed_effects[analysis.mixed_model.fixed_effects["term"].str.count(":") == 2]
    assert len(three_way) == 1 and three_way["p"].iloc[0] < 0.05
    assert read_record(outputs["mixed_model_json"])["tests"]


def test_one_family_skips_mixed_model_and_panels_with_a_reason_and_writes_every_file(tmp_path):
    analysis, outputs = run(tmp_path, {"own-llama-a": "llama", "own-llama-b": "llama"})
    assert analysis.mixed_model is None
    record = read_record(outputs["mixed_model_json"])
    assert record["tests"] == [] and "2 base families" in record["skipped"] and "\n" not in record["skipped"]
    assert "Gemma" in read_record(outputs["panel_tests_json"])["skipped"]
    mixed = read_csv(outputs["mixed_model_csv"])
    panels = read_csv(outputs["panel_tests_csv"])
    assert mixed.empty and list(mixed.columns) == list(MIXED_MODEL_COLUMNS)
    assert panels.empty and list(panels.columns) == panel_test_columns()
    assert read_csv(outputs["means_csv"])["Gemma"].isna().all()
    assert "at least 1 RM of each of Gemma and Llama" in read_record(outputs["rm_level_json"])["skipped"]
    rm_level = read_csv(outputs["rm_level_csv"])
    assert rm_level.empty and list(rm_level.columns) == rm_level_test_columns()
    assert list(read_csv(outputs["rm_contrasts_csv"])["rm"]) == ["own-llama-a", "own-llama-b"]  # per RM, whatever the families


def test_rm_level_stars_of_two_plus_two_rms_say_so_and_are_never_significant(tmp_path):
    analysis, outputs = run(tmp_path, TWO_BY_TWO, star_p="rm_level")
    panels = read_csv(outputs["panel_tests_csv"])
    assert set(panels["stars"]) == {"ns"} and set(panels["star_p"]) == {"rm_level exact (holm)"}
    assert read_record(outputs["panel_tests_json"])["stars_from"] == "rm_level exact (holm)"
    rm_level = read_csv(outputs["rm_level_csv"])
    assert (rm_level[["n_Gemma", "n_Llama"]] == 2).all().all() and (rm_level["p_exact"] >= 1 / 3 - 1e-12).all()
    three_way = rm_level[rm_level["term"] == "base_modelLlama:CategoryCommunion:prompt_framingnegative"]
    assert len(three_way) == 1 and three_way["n_relabellings"].iloc[0] == 6
    contrasts = read_csv(outputs["rm_contrasts_csv"])
    assert sorted(contrasts["rm"]) == sorted(TWO_BY_TWO) and (contrasts["n_prompts_positive"] == 2).all()
    record = read_record(outputs["rm_level_json"])
    assert len(record["tests"]) == 2 * len(rm_level)
    assert set(record["contrast_columns"]) == set(contrasts.columns) - {"rm", "base_model"}


def test_an_rm_of_a_third_family_is_left_out_of_the_family_comparisons_but_keeps_its_contrasts(tmp_path):
    families = {**TWO_BY_TWO, "own-qwen": "qwen"}
    analysis, _ = run(tmp_path, families)
    assert analysis.left_out == {"Qwen": ["own-qwen"]}
    assert analysis.mixed_model is not None and analysis.mixed_model.n_groups == 4  # Llama and Gemma RMs only
    assert not analysis.panels.empty and "own-qwen" in set(analysis.rm_contrasts["rm"])


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda table: table.drop(columns="worst_ever_one"), "missing column(s) worst_ever_one"),
        (lambda table: table.assign(best_ever_one=table["best_ever_one"].where(table["response"] != "agency3")), "NaN or infinite"),
        (lambda table: table.assign(bad_time_please=np.inf), "NaN or infinite"),
        (lambda table: table[table["response"] != "communion5"], "1 of the 16 terms of dictionary big2_nouns have no row"),
    ],
    ids=["missing prompt column", "NaN reward", "infinite reward", "missing term"],
)
def test_bad_score_table_stops_with_one_line_naming_it_and_writes_nothing(tmp_path, edit, problem):
    with pytest.raises(InputError) as error:
        run(tmp_path, TWO_BY_TWO, edit)
    message = str(error.value)
    assert message.startswith(str(tmp_path / "own-llama-a.parquet")) and problem in message and "\n" not in message
    assert list((tmp_path / "out").iterdir()) == []
