# Config access and input functions shared by every stage. The config is validated here,
# before any rule is defined, so a bad key stops the run with one line naming it.
import re
import sys
from pathlib import Path

from rmbias.config import load_prompts, load_yaml, validate_against_schema, validate_config
from rmbias.io import InputError


def _validated_config():
    try:
        prompts = load_prompts("config/prompts.yaml", load_yaml("config/prompts_schema.yaml"))
        manifest = load_yaml("config/reference.yaml")
        validate_against_schema(manifest, load_yaml("config/reference_schema.yaml"), "config/reference.yaml")
        validate_config(config, load_yaml("config/schema.yaml"), prompts)
    except InputError as err:
        sys.stderr.write(f"rmbias: {err}\n")
        sys.exit(1)
    return prompts, manifest


PROMPTS, MANIFEST = _validated_config()
PROMPT_KEYS = list(PROMPTS)
LLMS = {m["id"]: m for m in config["models"]}
RMS = {m["id"]: m for m in config["reward_models"]}
REFERENCE_DIR = "data/reference/upstream"

wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    dictionary="big2_nouns|big2_expanded|mfd2",


def reference(rel_path):
    """Local path of a published reference file (fetched by rule fetch_reference)."""
    if rel_path not in MANIFEST["files"]:
        raise ValueError(f"{rel_path} is not in config/reference.yaml")
    return f"{REFERENCE_DIR}/{rel_path}"


DICTIONARY_FILES = {
    "big2_nouns": "data/corpora/dict_big2_nouns.csv",
    "big2_expanded": "data/corpora/dict_big2_expanded.csv",
    "mfd2": "data/corpora/moral-foundations-dictionary-20.dicx",
}
PUBLISHED_SCORE_DIRS = {"big2": "data/reward_model_scores/dict_big2_nouns/", "mfd": "data/reward_model_scores/dict_MFD_20/"}
REANALYSIS_DICTIONARY = {"big2": "big2_nouns", "mfd": "mfd2"}
PUBLISHED_ABLATIONS = {
    Path(p).stem.removeprefix("rank_results_"): p
    for p in MANIFEST["files"]
    if p.startswith("data/reward_model_training/rank_results_")
}


def published_rm_name(rel_path):
    """RewardBench model name of a published score file, e.g. Skywork_Skywork-Reward-Gemma-2-27B."""
    stem = Path(rel_path).stem
    for prefix in ("big2_rewards_", "MFD20_rewards_"):
        stem = stem.removeprefix(prefix)
    return stem


def published_scores(corpus):
    """{RM name: local path} of the published score files of one reanalysis corpus (big2 | mfd)."""
    return {
        published_rm_name(p): reference(p)
        for p in sorted(MANIFEST["files"])
        if p.startswith(PUBLISHED_SCORE_DIRS[corpus])
    }


def reanalysis_targets():
    if not config["reanalysis"]["enabled"]:
        return []
    stats = [
        f"results/stats/fig1_{corpus}_{name}.{ext}"
        for corpus in ("big2", "mfd")
        for name in ("mixed_model", "panel_tests", "means")
        for ext in ("json", "csv")
    ]
    figures = [
        f"results/figures/{name}.{ext}"
        for name in ("fig1a_big2", "fig1b_mfd", "figA1a_big2", "figA1b_mfd", "fig4b_ablations", "figA5b_ablations")
        for ext in ("pdf", "png")
    ]
    return stats + figures + ["results/stats/published_ablations.csv"]


def scoring_targets():
    logprobs = [f"results/logprobs/{m}.parquet" for m in LLMS]
    scores = [f"results/rm_scores/{scope}/{m}.parquet" for scope in config["scoring"]["scopes"] for m in RMS]
    checks = [f"results/stats/reproduction/{m}.csv" for m, e in RMS.items() if e.get("published_scores")]
    return logprobs + scores + checks


def all_targets():
    return reanalysis_targets() + scoring_targets()
