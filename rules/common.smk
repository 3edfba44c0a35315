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


def figure_files(*names):
    return [f"results/figures/{name}.{ext}" for name in names for ext in ("pdf", "png")]


def reanalysis_targets():
    """Issue-2 outputs: Figures 1, A1, 4b, A5b and their statistics from the published data."""
    if not config["reanalysis"]["enabled"]:
        return []
    stats = [
        f"results/stats/fig1_{corpus}_{name}.{ext}"
        for corpus in ("big2", "mfd")
        for name in ("mixed_model", "panel_tests", "means")
        for ext in ("json", "csv")
    ]
    figures = figure_files("fig1a_big2", "fig1b_mfd", "figA1a_big2", "figA1b_mfd", "fig4b_ablations", "figA5b_ablations")
    return stats + figures + ["results/stats/published_ablations.csv"]


def scoring_targets():
    logprobs = [f"results/logprobs/{m}.parquet" for m in LLMS]
    scores = [f"results/rm_scores/{scope}/{m}.parquet" for scope in config["scoring"]["scopes"] for m in RMS]
    checks = [f"results/stats/reproduction/{m}.csv" for m, e in RMS.items() if e.get("published_scores")]
    return logprobs + scores + checks


def implicit_targets():
    """Section 3: Figure 2 (with its statistics), Figure 3, the MWLR tables and top-k."""
    implicit = config["implicit"]
    targets = []
    if implicit["fig2"]["instruct"]:
        targets += figure_files("fig2a_instruct") + ["results/stats/fig2_instruct_anova.json"]
    if implicit["fig2"]["pretrained"]:
        targets += figure_files("fig2b_pretrained") + ["results/stats/fig2_pretrained_anova.json"]
    llama_it = [m for m, e in LLMS.items() if e["family"] == "llama" and e["type"] == "instruction-tuned"]
    gemma_it = [m for m, e in LLMS.items() if e["family"] == "gemma" and e["type"] == "instruction-tuned"]
    if llama_it and gemma_it:
        targets += figure_files("fig3_lollipop")
    targets += [f"results/tables/{t['name']}.{ext}" for t in implicit["tables"] for ext in ("tex", "csv")]
    if implicit["topk_vocabulary"] and "vocab" in config["scoring"]["scopes"] and RMS:
        targets.append("results/stats/topk.json")
    if config["authority_boost"]["enabled"]:
        targets += figure_files("figA3a_authority", "figA3b_authority")
    return targets


def training_targets():
    """Section 4: checkpoint dynamics, own ablations, rank changes, Kendall tau."""
    training = config["training"]
    if not training["enabled"] or not training["runs"]:
        return []
    targets = ["results/stats/training_dynamics.json"] + figure_files("fig4b_ablations_own", "figA5b_ablations_own")
    if training["figures"]["checkpoint_runs"]:
        targets += figure_files("fig4a_training_checkpoints", "figA5a_training_checkpoints", "figG1_kendall")
    targets += figure_files(*training["figures"]["rank_changes"])
    return targets


def all_targets():
    return ["results/config_used.yaml"] + reanalysis_targets() + scoring_targets() + implicit_targets() + training_targets()


# --- Demo world --------------------------------------------------------------

# The config's models whose weights live in results/models/<id> are the demo world's.
DEMO_MODEL_IDS = [m["id"] for m in [*LLMS.values(), *RMS.values()] if m["hf"] == f"results/models/{m['id']}"]


# --- Scoring (models, resources, candidates) ---------------------------------

def model_entry(model_id):
    return LLMS[model_id] if model_id in LLMS else RMS[model_id]


def model_files(model_id):
    """The model directory when the workflow builds it (demo world), else nothing (hub id)."""
    return [f"results/models/{model_id}"] if model_id in DEMO_MODEL_IDS else []


def model_resource(key, default=None):
    """A resources callable reading ``key`` from the model entry named by the ``model`` wildcard.

    The SLURM executor turns ``gpu`` into ``--gpus``, ``constraint`` into ``-C`` and
    ``slurm_partition`` into ``-p``; a callable returning None adds no flag."""
    return lambda wc: model_entry(wc.model)["resources"].get(key, default)


def scoring_candidates(wc):
    if wc.scope == "vocab":
        return f"results/tokens/{wc.model}.parquet"
    return "results/corpora/dictionary_scope.parquet"


def scope_prompts(scope):
    """The prompts scored in ``scope``: all of them, or scoring.vocab_prompts for the vocab scope."""
    keys = config["scoring"]["vocab_prompts"]
    if scope == "dictionary" or keys == "all":
        return PROMPTS
    return {key: PROMPTS[key] for key in keys}


# --- Implicit RMs, Figure 2/3, tables, authority boost -----------------------

IMPLICIT = config["implicit"]
FIG2_VARIANTS = {variant: ids for variant, ids in IMPLICIT["fig2"].items() if ids}
FIG3_PAIRS = [
    (a, b)
    for a, ea in LLMS.items()
    for b, eb in LLMS.items()
    if ea["family"] == "llama" and eb["family"] == "gemma" and ea["type"] == eb["type"] == "instruction-tuned"
]
TABLES = {t["name"]: t for t in IMPLICIT["tables"]}


def implicit_file(a, b, prompt=IMPLICIT["prompt"]):
    return f"results/implicit/{prompt}/{a}__{b}.parquet"


def authority_entry(wc):
    """The model entry whose log-probabilities rule authority_logprobs computes."""
    entry = dict(LLMS[wc.base])
    if wc.variant == "boosted":
        entry.update(id=f"{wc.base}-boosted", hf=f"results/authority/{wc.base}/boosted")
    entry["type"] = "instruction-tuned" if wc.template == "with" else "pretrained"
    return entry


# Appendix F: boost 10 authority words in a base LLM by LoRA SFT, then ask which candidate
# measure recovers them on held-out prompts, with and without the chat template.
AUTHORITY = config["authority_boost"]
AUTHORITY_HELD_OUT = [
    key for key, p in PROMPTS.items() if p["valence"] == "positive" and key not in AUTHORITY["train_keys"]
]


# --- Training ----------------------------------------------------------------

TRAINING = config["training"]
RUNS = {run["id"]: run for run in TRAINING["runs"]}
TRAINING_BASES = sorted({run["base"] for run in RUNS.values()})


def run_resource(key, default=None):
    """A resources callable reading ``key`` from the run's ``resources`` entry."""
    return lambda wc: RUNS[wc.run]["resources"].get(key, default)


def preference_file(wc):
    data = RUNS[wc.run]["data"]
    if data["source"] == "synthetic":
        return f"results/training/data/synthetic-{data['size'] + TRAINING['heldout_pairs']}-{data['seed']}.jsonl"
    return data.get("path") or f"data/preferences/{data['dataset']}.parquet"
