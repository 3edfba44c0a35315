"""A prompt set is data: any prompts file (config key ``prompts``) with free keys and two framings.

The prompts file is validated where the workflow parses (one line naming the file), the demo
world builds its models from it, and the Figure 1 (RM search over a dictionary) and Figure 2
(log-probabilities) analyses run on them with 3 prompts per framing; only the reanalysis of the
published scores, whose columns are the paper's keys, needs the paper's keys.
"""

from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from workflow_helpers import job_counts, run_snakemake

from rmbias.config import PAPER_PROMPT_KEY, load_prompts, load_yaml, validate_config
from rmbias.corpora.dictionaries import read_dictionary
from rmbias.demo import AGENCY, COMMUNION, TrainingSettings, build_demo_world, word_pools
from rmbias.demo.world import framing_words, planted_strength, planted_truth, shared_word_pools, wording_parts
from rmbias.implicit.figure2 import figure2_analysis
from rmbias.io import InputError, write_parquet
from rmbias.scoring.logprobs import write_logprobs
from rmbias.scoring.search import write_rm_scores
from rmbias.statistics.figure1 import analyse_own_scores, reanalyse_published_scores

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMPTS_SCHEMA = load_yaml(REPO_ROOT / "config" / "prompts_schema.yaml")
PAPER_PROMPTS = load_prompts(REPO_ROOT / "config" / "prompts.yaml", PROMPTS_SCHEMA)

FREE_PROMPTS = {
    "p1": {"text": "What, in one word, is the best thing ever?", "framing": "positive"},
    "p2": {"text": "Name the finest thing there is, in one word.", "framing": "positive"},
    "p3": {"text": "What is the most wonderful thing? One word.", "framing": "positive"},
    "p4": {"text": "What, in one word, is the worst thing ever?", "framing": "negative"},
    "p5": {"text": "Name the most awful thing there is, in one word.", "framing": "negative"},
    "p6": {"text": "What is the most dreadful thing? One word.", "framing": "negative"},
}
"""Six prompts with free keys, three per framing."""

FRAMINGS = {"positive", "negative"}
FREE_KEY_OVERRIDES = ("scoring={'vocab_prompts': ['p1', 'p4']}", "implicit={'prompt': 'p1', 'topk_prompt': 'p1'}",
                      "training={'score_prompt': 'p1'}", "authority_boost={'train_keys': ['p1', 'p2']}")
"""``--config`` values naming free keys where the demo config names the paper's."""


def write_prompts(path: Path, prompts: dict) -> Path:
    """``prompts`` written as a prompts file at ``path``."""
    path.write_text(yaml.safe_dump({"prompts": prompts}, sort_keys=False), encoding="utf-8")
    return path


# --- the prompts file -----------------------------------------------------------------------


def test_a_prompts_file_with_free_keys_loads_as_written(tmp_path):
    assert load_prompts(write_prompts(tmp_path / "mine.yaml", FREE_PROMPTS), PROMPTS_SCHEMA) == FREE_PROMPTS
    assert all(PAPER_PROMPT_KEY.fullmatch(key) for key in PAPER_PROMPTS) and len(PAPER_PROMPTS) == 54


BAD_PROMPTS = {
    "missing framing": ({**FREE_PROMPTS, "p1": {"text": "What is best?"}}, "error at prompts.p1: 'framing' is a required property"),
    "one framing with 1 prompt": ({key: FREE_PROMPTS[key] for key in ("p1", "p2", "p4")},
                                  ": 1 prompt(s) of framing 'negative'; Figures 1 and 2 compare the framings and need at least 2"),
    "bad key": ({**FREE_PROMPTS, "my prompt": FREE_PROMPTS["p1"]}, "'my prompt' does not match"),
    "unknown framing": ({**FREE_PROMPTS, "p1": {**FREE_PROMPTS["p1"], "framing": "neutral"}}, "'neutral' is not one of"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROMPTS))
def test_a_bad_prompts_file_stops_with_one_line_naming_it(tmp_path, case):
    prompts, message = BAD_PROMPTS[case]
    path = write_prompts(tmp_path / "bad.yaml", prompts)
    with pytest.raises(InputError) as err:
        load_prompts(path, PROMPTS_SCHEMA)
    assert str(err.value).startswith(str(path)) and message in str(err.value) and "\n" not in str(err.value)


def test_a_config_prompt_key_missing_from_the_prompts_file_names_that_file():
    config = {"prompts": "config/mine.yaml", "reanalysis": {"enabled": False}, "authority_boost": {"enabled": False}}
    with pytest.raises(InputError, match=r"^config error at implicit.prompt: unknown prompt key 'greatest_ever_one' "
                                         r"\(not in config/mine.yaml\)$"):
        validate_config(config, load_yaml(REPO_ROOT / "config" / "schema.yaml"), FREE_PROMPTS)


def test_the_workflow_reads_the_prompts_file_the_config_names(workflow_copy, reference_mirror):
    mirror = f"reference_mirror={reference_mirror}"
    bad = write_prompts(workflow_copy / "config" / "bad.yaml", {key: FREE_PROMPTS[key] for key in ("p1", "p4", "p5")})
    result = run_snakemake(workflow_copy, "-n", "--config", "prompts=config/bad.yaml", mirror)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("rmbias:")]
    assert errors == [f"rmbias: {bad}: 1 prompt(s) of framing 'positive'; Figures 1 and 2 compare the framings "
                      "and need at least 2 of each"], result.stdout[-3000:]
    write_prompts(workflow_copy / "config" / "mine.yaml", FREE_PROMPTS)
    result = run_snakemake(workflow_copy, "-n", "fig2a", "fig1a_own", "--config", "prompts=config/mine.yaml", mirror,
                           *FREE_KEY_OVERRIDES)
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["fig2_stats"] == 1 and counts["fig1_own"] == 1 and "fig1_reanalysis" not in counts


def test_the_published_scores_are_read_with_the_papers_keys_only(reference_data):
    path = next((reference_data / "reward_model_scores" / "dict_big2_nouns").glob("*.csv"))
    with pytest.raises(InputError, match=rf"^{path}: prompt key 'p1' is not a published score column"):
        reanalyse_published_scores({"rm": path}, "unread.parquet", FREE_PROMPTS, None, 9, 0, "permutation")


# --- the demo world with free keys ------------------------------------------------------------


def test_the_demo_world_reads_the_wording_of_free_keys_from_their_texts():
    assert wording_parts("best_ever_one") == ("best", "ever", "one") and wording_parts("p1") == ()
    truth = planted_truth(FREE_PROMPTS, "llama", strength=0.8, seed=0)
    assert {key: entry["framing"] for key, entry in truth.items()} == {key: p["framing"] for key, p in FREE_PROMPTS.items()}
    assert all(entry["strength"] == planted_strength("llama", 0.8) for entry in truth.values())  # factor 1
    assert framing_words(FREE_PROMPTS) == {"negative": ["awful", "dreadful", "worst"],
                                           "positive": ["best", "finest", "wonderful"]}
    # the paper's prompts: the words that tell the framings apart are their keys' adjectives
    assert framing_words(PAPER_PROMPTS) == {"negative": ["bad", "terrible", "worst"], "positive": ["best", "good", "greatest"]}


TINY = TrainingSettings(lm_steps=4, lm_answers_per_step=8, rating_steps=4, lm_ratings_per_step=8, rm_steps=2, rm_batch_size=8)
"""A few steps of each objective: the analyses need models, not a recovered effect."""

LMS = ("demo-llama-it", "demo-gemma-it")
RMS = ("demo-llama-rm-a", "demo-llama-rm-b", "demo-gemma-rm-a", "demo-gemma-rm-b")
"""2 + 2 RMs: the fewest with which the mixed models and the panel tests are computed."""

WORDS_PER_CATEGORY = 60
DICTIONARY_FILES = {"big2_nouns": "dict_big2_nouns.csv", "big2_expanded": "dict_big2_expanded.csv",
                    "mfd2": "moral-foundations-dictionary-20.dicx"}


@pytest.fixture(scope="module")
def free_world(reference_mirror, tmp_path_factory) -> tuple[dict[str, Path], Path]:
    """The demo models of :data:`LMS` and :data:`RMS` built from :data:`FREE_PROMPTS`, and a Big Two
    corpus of the words every family's tokenizer has (the terms the analyses rank)."""
    torch.set_num_threads(1)
    folder = reference_mirror / "data" / "corpora"
    corpora = pd.concat([read_dictionary(folder / name, dictionary) for dictionary, name in DICTIONARY_FILES.items()],
                        ignore_index=True)
    out = tmp_path_factory.mktemp("free_world")
    paths = build_demo_world(corpora, FREE_PROMPTS, out / "models", strength=0.8, seed=0, settings=TINY,
                             max_words_per_category=WORDS_PER_CATEGORY, model_ids=[*LMS, *RMS])
    pools = shared_word_pools(word_pools(corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0))
    corpus = pd.DataFrame([(word, category, "big2_nouns") for category in (AGENCY, COMMUNION) for word in pools[category]],
                          columns=["term", "category", "dictionary"])
    write_parquet(corpus, out / "big2.parquet")
    return paths, out / "big2.parquet"


def _entry(model_id: str, path: Path, kind: str) -> dict:
    return {"id": model_id, "hf": str(path), "family": model_id.split("-")[1], "kind": kind, "type": "instruction-tuned",
            **({"score": "logits[:, 0]"} if kind == "reward_model" else {})}


def test_figure2_runs_on_free_keys(free_world, tmp_path):
    paths, corpus = free_world
    logprobs = {model: tmp_path / f"{model}.parquet" for model in LMS}
    for model, out in logprobs.items():
        write_logprobs(_entry(model, paths[model], "causal_lm"), FREE_PROMPTS, out, device="cpu")
    observations, anova, welch = figure2_analysis(logprobs, corpus, FREE_PROMPTS)
    assert set(observations["prompt"]) == set(FREE_PROMPTS) and set(observations["framing"]) == FRAMINGS
    assert observations.groupby(["model", "framing", "category"]).size().eq(3).all()  # 3 prompts per cell
    assert "C(category):C(framing):C(model)" in set(anova["term"])
    assert set(welch["framing"]) == FRAMINGS and len(welch) == 4


def test_figure1_runs_on_free_keys(free_world, tmp_path):
    paths, corpus = free_world
    scores = {rm: tmp_path / f"{rm}.parquet" for rm in RMS}
    for rm, out in scores.items():
        write_rm_scores(_entry(rm, paths[rm], "reward_model"), FREE_PROMPTS, corpus, "dictionary", out,
                        tmp_path / f"{rm}.shards", device="cpu")
    analysis = analyse_own_scores(scores, {rm: rm.split("-")[1] for rm in RMS}, corpus, FREE_PROMPTS,
                                  mfd_scheme=None, n_permutations=99, seed=0, star_p="rm_level")
    assert set(analysis.observations["prompt"]) == set(FREE_PROMPTS) and set(analysis.observations["framing"]) == FRAMINGS
    assert analysis.skipped == {} and analysis.mixed_model is not None and analysis.maximal_model is not None
    assert set(analysis.panels["framing"]) == FRAMINGS and set(analysis.means["framing"]) == FRAMINGS
    assert (analysis.rm_contrasts[["n_prompts_positive", "n_prompts_negative"]] == 3).all().all()
