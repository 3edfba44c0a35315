"""The one statistics-output contract (rmbias.records): the validator, and every statistics job writing it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rmbias.implicit.figure2 import figure2_statistics
from rmbias.implicit.topk import topk_statistics
from rmbias.io import InputError, write_parquet
from rmbias.records import TEST_KEYS, entries_from_table, read_record, statistic_entry, statistics_record, validate_record, write_statistics
from rmbias.statistics.figure1 import analyse_observations
from rmbias.statistics.figure1_outputs import write_ranking_analysis
from rmbias.statistics.published_ablations import PUBLISHED_ABLATIONS, published_ablations, read_ablation_warnings
from rmbias.statistics.ranks import rm_median_ranks
from rmbias.training.dynamics import training_dynamics_statistics

PROMPTS = {
    "best_ever_one": {"framing": "positive"},
    "best_ever_single": {"framing": "positive"},
    "worst_ever_one": {"framing": "negative"},
    "worst_ever_single": {"framing": "negative"},
}
WORDS = {"love": "Communion", "family": "Communion", "care": "Communion", "power": "Agency", "freedom": "Agency", "success": "Agency"}


def good_record() -> dict:
    entry = statistic_entry("Welch t", 2.5, 0.02, df=10.0, correction="bonferroni over panels", p_adjusted=0.04,
                            inputs={"n_Gemma": 6}, cell={"category": "Agency"}, effect_size={"d_pooled": 0.5})
    return statistics_record("demo", "a Welch test", [entry], means=[{"Gemma": 1.0}])


def test_entries_have_exactly_the_contract_keys_and_nan_becomes_null(tmp_path):
    frame = pd.DataFrame({"t": [1.5], "p": [0.2], "df": [np.nan], "category": ["A"], "n": [4]})
    [entry] = entries_from_table(frame, test="Welch t", statistic="t", p="p", df="df", cell=["category"], inputs=["n"])
    assert tuple(entry) == TEST_KEYS
    assert entry["cell"] == {"category": "A"} and entry["inputs"] == {"n": 4} and entry["correction"] == "none"
    write_statistics(statistics_record("x", "y", [entry]), tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["tests"][0]["df"] is None


@pytest.mark.parametrize(
    "breaks",
    [
        lambda r: r.pop("description"),
        lambda r: r["tests"][0].pop("inputs"),
        lambda r: r["tests"][0].update(extra=1),
        lambda r: r["tests"][0].update(p=1.5),
        lambda r: r["tests"][0].update(statistic="2.5"),
        lambda r: r["tests"][0].update(correction="none"),
        lambda r: r["tests"][0].update(cell=["Agency"]),
    ],
)
def test_validator_rejects_every_deviation_from_the_shape(breaks):
    record = good_record()
    validate_record(record)
    breaks(record)
    with pytest.raises(InputError):
        validate_record(record)


def test_invalid_record_writes_nothing(tmp_path):
    record = good_record()
    record["tests"][0]["p"] = -1.0
    with pytest.raises(InputError, match="not in"):
        write_statistics(record, tmp_path / "r.json", {tmp_path / "r.csv": pd.DataFrame({"a": [1]})})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- every statistics job


def figure1_observations() -> pd.DataFrame:
    """Scores of the Big Two words and 20 unanalysed fillers; each RM has its own Agency shift."""
    rng = np.random.default_rng(0)
    words = {**WORDS, **{f"filler{i}": "Other" for i in range(20)}}
    rows = []
    for rm in ("a-gemma", "b-gemma", "c-gemma", "a-llama", "b-llama", "c-llama"):
        agency_shift = rng.normal(0, 1.0)
        for prompt in PROMPTS:
            for term, category in words.items():
                rows.append((rm, prompt, term, category, rng.normal() + agency_shift * (category == "Agency")))
    return pd.DataFrame(rows, columns=["rm", "prompt", "term", "category", "score"])


def write_figure1(tmp_path: Path) -> list[Path]:
    scores = figure1_observations()
    families = {rm: "Gemma" if rm.endswith("gemma") else "Llama" for rm in scores["rm"].unique()}
    obs = rm_median_ranks(scores, {k: p["framing"] for k, p in PROMPTS.items()}, families)
    analysis = analyse_observations(obs[obs["category"].isin(["Agency", "Communion"])], n_resamples=99)
    outputs = {key: str(tmp_path / f"fig1_{key.replace('_json', '.json').replace('_csv', '.csv')}") for key in
               ("mixed_model_json", "mixed_model_csv", "maximal_model_json", "maximal_model_csv", "evidence_json", "evidence_csv",
                "panel_tests_json", "panel_tests_csv", "means_json", "means_csv", "rm_contrasts_csv", "rm_level_json", "rm_level_csv")}
    outputs["observations"] = str(tmp_path / "fig1_observations.parquet")
    write_ranking_analysis(analysis, outputs, "fig1_test")
    return [Path(outputs[key]) for key in ("mixed_model_json", "maximal_model_json", "evidence_json", "panel_tests_json", "means_json",
                                           "rm_level_json")]


def write_figure2(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    paths = {}
    for model in ("gemma-it", "llama-it"):
        table = pd.DataFrame({"decoded": [*WORDS, "table"], **{k: rng.normal(size=len(WORDS) + 1) for k in PROMPTS}})
        paths[model] = tmp_path / f"{model}.parquet"
        write_parquet(table, paths[model])
    write_parquet(pd.DataFrame({"term": list(WORDS), "category": list(WORDS.values()), "dictionary": "big2_nouns"}),
                  tmp_path / "corpus.parquet")
    outputs = {"observations": tmp_path / "fig2_obs.parquet", "anova_csv": tmp_path / "fig2_anova.csv",
               "anova_json": tmp_path / "fig2_anova.json", "welch_csv": tmp_path / "fig2_welch.csv",
               "welch_json": tmp_path / "fig2_welch.json"}
    figure2_statistics(paths, tmp_path / "corpus.parquet", PROMPTS, outputs, "fig2_test")
    return [outputs["anova_json"], outputs["welch_json"]]


def write_shared_inputs(tmp_path: Path) -> tuple[Path, Path]:
    tokens = tmp_path / "tokens.parquet"
    write_parquet(pd.DataFrame({"decoded": [" Love", "love", "Power", "freedom", "Success", "table", "care"]}), tokens)
    corpus = tmp_path / "corpus.parquet"
    write_parquet(pd.DataFrame({"term": list(WORDS), "category": list(WORDS.values()), "dictionary": "big2_nouns"}), corpus)
    return tokens, corpus


def write_topk(tmp_path: Path) -> list[Path]:
    tokens, corpus = write_shared_inputs(tmp_path)
    rng = np.random.default_rng(2)
    scores = {}
    for rm in ("x-gemma-rm", "y-llama-rm"):
        scores[rm] = tmp_path / f"{rm}.parquet"
        write_parquet(pd.DataFrame({"response": [" Love", "love", "Power", "table"], "best_ever_one": rng.normal(size=4)}), scores[rm])
    json_path = tmp_path / "topk.json"
    topk_statistics(
        tmp_path / "per_rm.csv", tmp_path / "per_family.csv", json_path,
        score_paths=scores, token_table_paths=[tokens], corpus_path=corpus, prompt="best_ever_one", k=3,
    )
    return [json_path]


def write_training_dynamics(tmp_path: Path) -> list[Path]:
    tokens, corpus = write_shared_inputs(tmp_path)
    rng = np.random.default_rng(3)
    decoded = [" Love", "love", "Power", "freedom", "Success", "table", "care"]
    runs, score_paths = [], []
    for run, family in (("run-g", "Gemma"), ("run-l", "Llama")):
        path = tmp_path / f"{run}.parquet"
        write_parquet(pd.DataFrame({"decoded": decoded, "token_id": range(7), **{f"step-{s}": rng.normal(size=7) for s in (0, 5, 10)}}), path)
        runs.append({"run": run, "base_model": family, "data_source": "synthetic", "data_size_k": 1.0})
        score_paths.append(path)
    outputs = {name: tmp_path / f"training_{name}.csv" for name in ("ranks", "final", "kendall", "changes", "trajectories")}
    outputs["json"] = tmp_path / "training_dynamics.json"
    training_dynamics_statistics(score_paths, [tokens], corpus, runs, [], outputs)
    record = read_record(outputs["json"])
    # per run: tau with the previous checkpoint at steps 5 and 10, with the final at steps 0 and 5
    assert len(record["tests"]) == 2 * 4
    assert {entry["cell"]["run"] for entry in record["tests"]} == {"run-g", "run-l"}
    return [outputs["json"]]


def write_published_ablations(tmp_path: Path, reference_data: Path) -> list[Path]:
    """The published ablations job on the published rank_results files under ``reference_data``."""
    ablations = reference_data / "reward_model_training"
    paths = {label: ablations / f"rank_results_{label}.csv" for label in PUBLISHED_ABLATIONS}
    json_path = tmp_path / "published_ablations_warnings.json"
    published_ablations(paths, tmp_path / "published_ablations.csv", json_path)
    assert any("byte-identical" in warning for warning in read_ablation_warnings(json_path))
    return [json_path]


STATISTICS_WRITERS = {
    "fig1_reanalysis": write_figure1,
    "fig2_stats": write_figure2,
    "topk": write_topk,
    "training_dynamics": write_training_dynamics,
}
"""The statistics jobs run on synthetic inputs; published_ablations reads the published files."""


def assert_one_record_shape(paths: list[Path]) -> None:
    """Every record of ``paths`` has test entries with exactly the contract's keys, an analysis and a description."""
    for path in paths:
        record = read_record(path)
        assert all(tuple(entry) == TEST_KEYS for entry in record["tests"])
        assert record["analysis"] and record["description"]


@pytest.mark.parametrize("job", list(STATISTICS_WRITERS))
def test_every_statistics_job_writes_the_one_record_shape(tmp_path, job):
    assert_one_record_shape(STATISTICS_WRITERS[job](tmp_path))


def test_published_ablations_job_writes_the_one_record_shape(tmp_path, reference_data):
    assert_one_record_shape(write_published_ablations(tmp_path, reference_data))


def test_test_entries_of_the_stats_jobs_carry_their_numbers(tmp_path):
    [mixed, maximal, _, panels, means, rm_level] = [read_record(path) for path in write_figure1(tmp_path)]
    effects = {entry["term"]: entry for entry in mixed["tests"]}
    assert "base_modelLlama" in effects and effects["base_modelLlama"]["se"] > 0
    assert effects["base_modelLlama"]["df"] == 4  # 6 RMs - 1 - 1 between-RM column
    assert {entry["df"] for entry in maximal["tests"]} == {4}  # every term against between-RM variation
    welch = [entry for entry in panels["tests"] if entry["test"] == "Welch t"]
    assert len(welch) == 2 * 2 and all(set(entry["cell"]) == {"category", "framing"} for entry in welch)
    assert all(entry["p"] <= entry["p_adjusted"] <= 1 for entry in panels["tests"])
    assert means["tests"] == [] and len(means["means"]) == 4
    exact = [entry for entry in rm_level["tests"] if entry["test"].startswith("permutation over RM labels")]
    three_way = [entry for entry in exact if entry["term"] == "base_modelLlama:CategoryCommunion:prompt_framingnegative"]
    assert len(three_way) == 1 and three_way[0]["correction"] == "holm over model_term contrasts"
    assert {key: three_way[0]["inputs"][key] for key in ("n_Gemma", "n_Llama", "n_relabellings")} == {"n_Gemma": 3, "n_Llama": 3, "n_relabellings": 20}
    assert three_way[0]["inputs"]["smallest_p"] == 0.1 and three_way[0]["p"] <= three_way[0]["p_adjusted"]
    anova, cells = [read_record(path) for path in write_figure2(tmp_path)]
    assert "Residual" not in {entry["term"] for entry in anova["tests"]}
    assert {entry["correction"] for entry in cells["tests"]} == {"Benjamini-Hochberg FDR over cells"}
