# Config access and input functions shared by every stage (no rules). The config is validated
# here, before any rule is defined, so a bad key stops the run with one line naming it.
import os
import re
import sys
from pathlib import Path

from rmbias.config import (
    builtin_lexicons,
    declared_lexicons,
    load_prompts,
    load_yaml,
    prompt_texts,
    validate_against_schema,
    validate_config,
)
from rmbias.io import InputError
from rmbias.implicit.rendering import RENDERINGS, plain_rendering_entries
from rmbias.models.conversations import chat_template_text, renders_chat
from rmbias.models.families import family_label, published_rm_name
from rmbias.scoring.prompt_groups import check_prompt_groups, group_label, group_prompts, prompt_group_count
from rmbias.training.authority_boost import authority_heldout_keys
from rmbias.training.config_checks import check_training_config


# Files the workflow reads while it parses are found from the repository root, so that
# `snakemake --directory <dir>` keeps a world's outputs in <dir> (config/README.md).
REPO_ROOT = Path(workflow.basedir)


def repo_file(rel_path):
    """Path of a file of this repository, whatever the working directory."""
    return str(REPO_ROOT / rel_path)


def _validated_config():
    try:
        # The prompts file is named by the config (key prompts; validating fills in its default).
        # Jobs get the prompts' content, never the file's path: editing a prompt makes the jobs
        # that read it stale, moving the file does not.
        validate_against_schema(config, load_yaml(repo_file("config/schema.yaml")), "config")
        prompts = load_prompts(repo_file(config["prompts"]), load_yaml(repo_file("config/prompts_schema.yaml")))
        manifest = load_yaml(repo_file("config/reference.yaml"))
        validate_against_schema(manifest, load_yaml(repo_file("config/reference_schema.yaml")), "config/reference.yaml")
        schema = load_yaml(repo_file("config/schema.yaml"))
        builtins = builtin_lexicons(schema, repo_file("config/lexicons.yaml"))
        validate_config(config, schema, prompts, manifest, builtins)
        lexicons = declared_lexicons(config, builtins)
        for index, entry in enumerate(config["lexicons"]):
            if not Path(repo_file(entry["file"])).is_file():
                raise InputError(f"config error at lexicons[{index}].file: no file {entry['file']} in the repository ({REPO_ROOT})")
        for entry in [*config["models"], *config["reward_models"], config["authority_boost"]]:
            if entry.get("chat_template") is not None:
                # The template's text goes into every job's params: editing the file makes the model's jobs stale.
                entry["chat_template"] = chat_template_text(entry["chat_template"], REPO_ROOT)
    except InputError as err:
        sys.stderr.write(f"rmbias: {err}\n")
        sys.exit(1)
    return prompts, manifest, lexicons


PROMPTS, MANIFEST, LEXICONS = _validated_config()
"""LEXICONS: id -> entry of every declared lexicon, the built-ins (config/lexicons.yaml) first."""
LLMS = {m["id"]: m for m in config["models"]}
RMS = {m["id"]: m for m in config["reward_models"]}
REFERENCE_DIR = "data/reference/upstream"

wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    dictionary="|".join(re.escape(lexicon_id) for lexicon_id in LEXICONS),


def one_of(names):
    """A wildcard constraint matching exactly ``names``; with no names, one that matches nothing."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def reference(rel_path):
    """Local path of a published reference file (fetched by rule fetch_reference)."""
    if rel_path not in MANIFEST["files"]:
        raise ValueError(f"{rel_path} is not in config/reference.yaml")
    return f"{REFERENCE_DIR}/{rel_path}"


def lexicon_file(lexicon_id):
    """The file of a declared lexicon: a published reference file (the built-ins), else its path
    from the repository root (checked when the config is read), written relative to the working
    directory so that Snakemake's record of the input does not change when the folder moves."""
    path = LEXICONS[lexicon_id]["file"]
    return reference(path) if path in MANIFEST["files"] else os.path.relpath(repo_file(path))


DICTIONARY_CORPORA = config["scoring"]["dictionary_corpora"]
"""The lexicons of the dictionary scope, each with its corpus, lexicon token table and Figure 1 analysis."""
ALL_CORPORA = expand("results/corpora/{dictionary}.parquet", dictionary=LEXICONS)
"""The corpus of every declared lexicon: the demo world's words (rules/demo.smk, synthetic preferences)."""
PUBLISHED_SCORE_DIRS = {"big2": "data/reward_model_scores/dict_big2_nouns/", "mfd": "data/reward_model_scores/dict_MFD_20/"}
REANALYSIS_DICTIONARY = {"big2": "big2_nouns", "mfd": "mfd2"}
"""The published reanalysis' corpora (Figure 1 of the published scores, the value profiles) and their lexicons."""


def analysis_name(lexicon_id):
    """The name of a lexicon's Figure 1 analysis (results/stats/fig1_<name>_own_*): big2 / mfd for
    the published reanalysis' lexicons, else the lexicon's id."""
    return {dictionary: corpus for corpus, dictionary in REANALYSIS_DICTIONARY.items()}.get(lexicon_id, lexicon_id)


def analysis_lexicon(name):
    """The lexicon of the Figure 1 analysis ``name`` (:func:`analysis_name`'s inverse)."""
    return REANALYSIS_DICTIONARY.get(name, name)
PUBLISHED_ABLATIONS = {
    Path(p).stem.removeprefix("rank_results_"): p
    for p in MANIFEST["files"]
    if p.startswith("data/reward_model_training/rank_results_")
}


def published_scores(corpus):
    """{RM name: local path} of the published score files of one reanalysis corpus (big2 | mfd)."""
    return {
        published_rm_name(p): reference(p)
        for p in sorted(MANIFEST["files"])
        if p.startswith(PUBLISHED_SCORE_DIRS[corpus])
    }


def model_entry(model_id):
    """The config entry of a model id: an LLM's, an RM's, or the plain rendering of an LLM whose template is borrowed."""
    if model_id in LLMS:
        return LLMS[model_id]
    return RMS[model_id] if model_id in RMS else PLAIN_ENTRIES[model_id]


def llm_entry(model_id):
    """The entry of an LLM id: a configured LLM's, or a plain rendering's (PLAIN_ENTRIES)."""
    return LLMS[model_id] if model_id in LLMS else PLAIN_ENTRIES[model_id]


# --- Models the workflow builds: the demo world, GGUF conversions -------------

# The config's models whose weights live in results/models/<id>: converted from a GGUF file
# (rules/gguf.smk) when the entry has a gguf key, exported from a training run's final
# checkpoint (rules/training.smk) when it has a training_run key, else the demo world's.
BUILT_MODEL_IDS = [m["id"] for m in [*LLMS.values(), *RMS.values()] if m["hf"] == f"results/models/{m['id']}"]
GGUF_MODEL_IDS = [model_id for model_id in BUILT_MODEL_IDS if "gguf" in model_entry(model_id)]
TRAINED_RM_IDS = [model_id for model_id in BUILT_MODEL_IDS if "training_run" in model_entry(model_id)]
DEMO_MODEL_IDS = [model_id for model_id in BUILT_MODEL_IDS if model_id not in GGUF_MODEL_IDS + TRAINED_RM_IDS]


def conversion_entry(wc):
    """The keys of a model entry its GGUF conversion (rules/gguf.smk) depends on: editing the
    entry's chat_template, batch sizes or resources makes its jobs stale, not the conversion."""
    entry = model_entry(wc.model)
    return {key: entry[key] for key in ("id", "hf", "family", "kind", "type", "dtype", "gguf")}


# --- GPU jobs ----------------------------------------------------------------

def gpu_job_resources(resources_of):
    """The ``resources:`` of a GPU job, read from the config entry ``resources_of(wildcards)``.

    The entry is a validated ``resources`` object of config/schema.yaml, so ``gpus``, ``mem_mb``
    and ``runtime`` hold the schema's defaults when the config omits them. The SLURM executor
    turns ``gpu`` into ``--gpus``, ``slurm_partition`` into ``-p`` and ``constraint`` into ``-C``;
    a callable returning None (no partition or constraint in the entry) adds no flag.
    """
    return {
        "gpu": lambda wc: resources_of(wc)["gpus"],
        "mem_mb": lambda wc: resources_of(wc)["mem_mb"],
        "runtime": lambda wc: resources_of(wc)["runtime"],
        "slurm_partition": lambda wc: resources_of(wc).get("slurm_partition"),
        "constraint": lambda wc: resources_of(wc).get("constraint"),
    }


def gpu_job_threads(resources_of):
    """The ``threads:`` of a GPU job: ``cpus_per_task`` of its config entry's ``resources``."""
    return lambda wc: resources_of(wc)["cpus_per_task"]


# --- Scoring (models, candidates) ---------------------------------------------

def model_files(model_id):
    """The model directory when the workflow builds it (demo world, GGUF conversion), else nothing
    (hub id); a plain rendering reads its model's weights."""
    model_id = RENDERED_FROM.get(model_id, model_id)
    return [f"results/models/{model_id}"] if model_id in BUILT_MODEL_IDS else []


def model_resources(wc):
    """The ``resources`` entry of the model named by the ``model`` wildcard."""
    return model_entry(wc.model)["resources"]


def scoring_candidates(wc):
    """The candidates of an RM search: the model's token table (scope ``vocab``), or the corpus of
    the lexicon of a dictionary scope (``dictionary/<lexicon id>``)."""
    if wc.scope == "vocab":
        return f"results/tokens/{wc.model}.parquet"
    return f"results/corpora/{dictionary_scope_lexicon(wc.scope)}.parquet"


def dictionary_scope(lexicon_id):
    """The search scope of one lexicon of the dictionary scope: ``dictionary/<lexicon id>``."""
    return f"dictionary/{lexicon_id}"


def dictionary_scope_lexicon(scope):
    """The lexicon id of a dictionary search scope (:func:`dictionary_scope`)."""
    return scope.split("/", 1)[1]


DICTIONARY_SCOPES = (
    [dictionary_scope(lexicon_id) for lexicon_id in DICTIONARY_CORPORA] if "dictionary" in config["scoring"]["scopes"] else []
)
"""One search of every RM per lexicon of the dictionary scope: a new lexicon adds its own searches
and leaves the others' up to date."""
SEARCH_SCOPES = [*DICTIONARY_SCOPES, *(["vocab"] if "vocab" in config["scoring"]["scopes"] else [])]
"""Every search of every RM: the dictionary scopes and the vocab scope."""


def scope_prompts(scope):
    """The prompts scored in ``scope``: all of them, or scoring.vocab_prompts for the vocab scope."""
    keys = config["scoring"]["vocab_prompts"]
    if scope != "vocab" or keys == "all":
        return PROMPTS
    return {key: PROMPTS[key] for key in keys}


try:
    check_prompt_groups(config, {scope: len(scope_prompts(scope)) for scope in config["scoring"]["scopes"]})
except InputError as err:
    sys.stderr.write(f"rmbias: {err}\n")
    sys.exit(1)

# Each RM's exhaustive search is split into this many prompt groups per scope: with more than
# one, one rm_scores job per group, then rule rm_scores_gather assembles the scope's table.
RM_PROMPT_GROUPS = {model: prompt_group_count(entry, config["scoring"]) for model, entry in RMS.items()}
PROMPT_GROUP_SUFFIX = ".groups/"
"""Between an RM id and a group label in the path of a group's table, e.g. rm.groups/2-of-4.parquet."""


def rm_scores_prompts(wc):
    """The prompts an rm_scores job scores: its scope's, or, for a group job, its group's share."""
    prompts = scope_prompts(wc.scope)
    if not wc.prompt_group:
        return prompts
    return group_prompts(prompts, wc.prompt_group.removeprefix(PROMPT_GROUP_SUFFIX))


def rm_group_tables(wc):
    """The tables of the prompt groups of RM ``wc.model`` in ``wc.scope``, in group order."""
    n_groups = RM_PROMPT_GROUPS[wc.model]
    return [f"results/rm_scores/{wc.scope}/{wc.model}{PROMPT_GROUP_SUFFIX}{group_label(index, n_groups)}.parquet"
            for index in range(1, n_groups + 1)]


# --- Implicit RMs, Figure 2/3, tables, authority boost -----------------------

IMPLICIT = config["implicit"]
FIG2_VARIANTS = {variant: ids for variant, ids in IMPLICIT["fig2"].items() if ids}
FIG3_PAIRS = [
    (a, b)
    for a, ea in LLMS.items()
    for b, eb in LLMS.items()
    if ea["family"] == "llama" and eb["family"] == "gemma"
    and renders_chat(ea["type"], ea.get("chat_template")) and renders_chat(eb["type"], eb.get("chat_template"))
]
TABLES = {t["name"]: t for t in IMPLICIT["tables"]}

# Rendering sensitivity: a pretrained model given a chat template (one it was not trained with)
# is analysed under both renderings (rmbias/implicit/rendering.py). Its plain rendering is a
# derived entry, id "<id>.plain", same weights; each Figure 2 set holding such a model gets a
# plain twin "<variant>_plain", each Figure 3 pair involving one a plain counterpart.
FIG2_AND_FIG3_MODELS = [m for ids in FIG2_VARIANTS.values() for m in ids] + [m for pair in FIG3_PAIRS for m in pair]
try:
    _PLAIN = plain_rendering_entries({**RMS, **LLMS}, FIG2_AND_FIG3_MODELS)
except InputError as err:
    sys.stderr.write(f"rmbias: {err}\n")
    sys.exit(1)
PLAIN_ENTRIES = {entry["id"]: entry for entry in _PLAIN.values()}
RENDERED_FROM = {entry["id"]: model_id for model_id, entry in _PLAIN.items()}


def rendered_plain(ids):
    """``ids`` with every model whose template is borrowed replaced by its plain rendering."""
    return [_PLAIN[m]["id"] if m in _PLAIN else m for m in ids]


FIG2_PAPER_LEXICON = "big2_nouns"
"""The lexicon of the paper's Figure 2: its sets keep the paper's names (fig2_instruct), and only
they get plain-rendering twins (the rendering sensitivity is a check of the paper's Figure 2)."""
FIG2_LEXICONS = IMPLICIT["fig2_lexicons"]
FIG2_RENDERING_SETS = {
    variant: {"template": ids, "plain": rendered_plain(ids)}
    for variant, ids in FIG2_VARIANTS.items()
    if set(ids) & set(_PLAIN) and FIG2_PAPER_LEXICON in FIG2_LEXICONS
}


def fig2_set_name(variant, lexicon_id):
    """The name of the Figure 2 set of ``variant`` (instruct, pretrained, <variant>_plain) ranking
    the terms of ``lexicon_id``: the variant for the paper's lexicon, else ``<variant>_<lexicon id>``."""
    return variant if lexicon_id == FIG2_PAPER_LEXICON else f"{variant}_{lexicon_id}"


FIG2_SETS = {
    **{
        fig2_set_name(variant, lexicon_id): {"models": ids, "lexicon": lexicon_id}
        for lexicon_id in FIG2_LEXICONS
        for variant, ids in FIG2_VARIANTS.items()
    },
    **{f"{variant}_plain": {"models": sets["plain"], "lexicon": FIG2_PAPER_LEXICON} for variant, sets in FIG2_RENDERING_SETS.items()},
}
"""Every Figure 2 statistics set (results/stats/fig2_<set>_*): each configured set per lexicon of
implicit.fig2_lexicons, and the plain twins of the paper lexicon's sets; models and lexicon."""
_BORROWING_PAIRS = [pair for pair in FIG3_PAIRS if set(pair) & set(_PLAIN)]
FIG3_RENDERING_PAIRS = {"template": _BORROWING_PAIRS, "plain": [tuple(rendered_plain(pair)) for pair in _BORROWING_PAIRS]}


TOPK_ON = bool(IMPLICIT["topk_vocabulary"]) and "vocab" in config["scoring"]["scopes"] and bool(RMS)
"""Whether the top-k analysis runs: a vocabulary to take it over, and RMs scored on the vocabulary."""


def single_token_models():
    """Lexicon id -> the models whose single-token analyses read it (Figure 2's sets, the top-k
    vocabularies), sorted: rule lexicon_tokens checks that each of its categories has a term
    each of them produces as one token."""
    uses = [(lexicon_id, [m for ids in FIG2_VARIANTS.values() for m in ids]) for lexicon_id in FIG2_LEXICONS]
    uses.append((IMPLICIT["topk_lexicon"], IMPLICIT["topk_vocabulary"] if TOPK_ON else []))
    models = {}
    for lexicon_id, ids in uses:
        if ids:
            models.setdefault(lexicon_id, set()).update(ids)
    return {lexicon_id: sorted(ids) for lexicon_id, ids in models.items()}


SINGLE_TOKEN_MODELS = single_token_models()


def fig2_rendering_files(stats, kind):
    """results/stats/<stats>_<kind> of a Figure 2 set (``stats`` = fig2_<variant>) under each
    rendering, in RENDERINGS order: the set's own, then its plain twin's."""
    suffixes = {rendering: "" if rendering == "template" else f"_{rendering}" for rendering in RENDERINGS}
    return [f"results/stats/{stats}{suffixes[rendering]}_{kind}" for rendering in RENDERINGS]


def llm_info(model_ids):
    """{id: version and size_b} of LLM ids (plain renderings carry their model's), as Figure 3 orders its pairs."""
    return {m: {"version": llm_entry(m).get("version", ""), "size_b": llm_entry(m).get("size_b", 0)} for m in model_ids}


def implicit_file(a, b, prompt=IMPLICIT["prompt"]):
    return f"results/implicit/{prompt}/{a}__{b}.parquet"


def authority_model_entry(base, variant, template):
    """The entry of Appendix F's ``variant`` (base or boosted) of LLM ``base``, rendered with
    (``with``) or without the template the SFT trains with: with it, through
    authority_boost.chat_template when set (the authors' plain-text instruction template), else
    through the base's chat template; without it, as plain text."""
    entry = dict(LLMS[base])
    if variant == "boosted":
        entry.update(id=f"{base}-boosted", hf=f"results/authority/{base}/boosted")
    if template == "with":
        entry["type"] = "instruction-tuned"
        if AUTHORITY["chat_template"] is not None:
            entry["chat_template"] = AUTHORITY["chat_template"]
    else:
        entry["type"] = "pretrained"
        entry.pop("chat_template", None)
    return entry


def authority_sft_entry(base):
    """The base entry the SFT trains: rendered through authority_boost.chat_template when set,
    else as the base renders itself (chat template of an instruction-tuned base)."""
    return authority_model_entry(base, "base", "with") if AUTHORITY["chat_template"] is not None else LLMS[base]


def authority_entry(wc):
    """The model entry whose log-probabilities rule authority_logprobs computes."""
    return authority_model_entry(wc.base, wc.variant, wc.template)


# Appendix F: boost 10 authority words in a base LLM by LoRA SFT, then ask which candidate
# measure recovers them on held-out prompts, with and without the chat template.
AUTHORITY = config["authority_boost"]
try:
    AUTHORITY_HELD_OUT = authority_heldout_keys(PROMPTS, AUTHORITY["train_keys"]) if AUTHORITY["enabled"] else []
except InputError as err:
    sys.stderr.write(f"rmbias: config error at authority_boost.train_keys: {err}\n")
    sys.exit(1)


def authority_resources(wc):
    """The ``resources`` entry of the Appendix F jobs (the SFT and its log-probabilities)."""
    return AUTHORITY["resources"]


# --- Training ----------------------------------------------------------------

TRAINING = config["training"]
RUNS = {run["id"]: run for run in TRAINING["runs"]}
TRAINING_BASES = sorted({run["base"] for run in RUNS.values()})
TRAINING_FIGURES = TRAINING["figures"]
# The bases whose token tables' intersection is the vocabulary of the training figures: those
# of the families training.figures.vocabulary_families names (the authors: Gemma and Llama), or all.
VOCABULARY_BASES = [
    base for base in TRAINING_BASES
    if not TRAINING_FIGURES["vocabulary_families"] or LLMS[base]["family"] in TRAINING_FIGURES["vocabulary_families"]
]
if TRAINING["enabled"] and RUNS and not VOCABULARY_BASES:
    sys.stderr.write(f"rmbias: config error at training.figures.vocabulary_families: no training base is of "
                     f"{', '.join(TRAINING_FIGURES['vocabulary_families'])}\n")
    sys.exit(1)


def run_resources(wc):
    """The ``resources`` entry of the training run named by the ``run`` wildcard."""
    return RUNS[wc.run]["resources"]


def trained_rm_run(wc):
    """The training run whose final checkpoint is the reward model named by the ``model`` wildcard."""
    return RUNS[RMS[wc.model]["training_run"]]


def preference_path(run_id):
    """The preference file training run ``run_id`` reads: its synthetic pairs, its ``data.path``
    or its downloaded ``data.dataset``."""
    data = RUNS[run_id]["data"]
    if data["source"] == "synthetic":
        return f"results/training/data/synthetic-{data['size'] + TRAINING['heldout_pairs']}-{data['seed']}.jsonl"
    return data.get("path") or f"data/preferences/{data['dataset']}.parquet"


def preference_file(wc):
    return preference_path(wc.run)


# The settings and preference files, checked against the training code (rmbias/training/config_checks.py).
try:
    check_training_config(config, {run_id: preference_path(run_id) for run_id in RUNS})
except InputError as err:
    sys.stderr.write(f"rmbias: {err}\n")
    sys.exit(1)
