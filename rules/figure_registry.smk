# The figure registry, FIGURES: one entry per figure naming the figure (its outputs
# results/figures/<name>.pdf and .png), its short alias (`snakemake fig3`), the rule that
# draws it, its report caption and category, the params its rule passes to the script, the
# stage whose targets it belongs to, and whether the config enables it. The figure rules'
# wildcard constraints, params, captions and categories (rules/figures.smk), the aliases and
# the figure targets of `rule all` (rules/targets.smk) are all derived from it; a disabled
# figure has no alias, is no target and no rule matches it. Adding a figure = one entry here
# + its rule's script. Snakemake reads a rule's caption file statically, so the figures one
# rule draws share that file (it picks its text by ``snakemake.wildcards.figure``). A caption
# names the config's models, runs and prompts: it reads ``snakemake.config`` and the params of
# its rule, some of which (caption_runs, prompt_text) are there for the caption alone.
# Functions only, no rules: the stage targets of `rule all` are defined here too.

from rmbias.figures.captions import training_run_phrases

REANALYSIS_ON = config["reanalysis"]["enabled"]
TRAINING_ON = TRAINING["enabled"] and bool(RUNS)
CHECKPOINT_RUNS = TRAINING["figures"]["checkpoint_runs"]
# Figures 4a and 4b (own runs) leave the Qwen-based runs out, as the paper's do (A5a and A5b keep
# them): they exist only when some run of theirs is not Qwen-based (else they would be empty).
NON_QWEN_RUNS = [run_id for run_id, run in RUNS.items() if LLMS[run["base"]]["family"] != "qwen"]
RANK_CHANGES = TRAINING["figures"]["rank_changes"]
# The configured RMs' own Figure 1 (rules/own_rms.smk): one analysis per lexicon the dictionary
# scope scores (analysis_name: big2, mfd, or the lexicon's id), when there are RMs and that scope
# is scored. The value profiles take every one of them; the family classifier and the combined
# figures stand beside the published RMs: big2 and mfd only (PROFILE_CORPORA).
OWN_RM_CORPORA = (
    [analysis_name(lexicon_id) for lexicon_id in DICTIONARY_CORPORA]
    if RMS and "dictionary" in config["scoring"]["scopes"]
    else []
)
PROFILE_CORPORA = [corpus for corpus in OWN_RM_CORPORA if corpus in REANALYSIS_DICTIONARY]
LEXICON_CORPORA = [corpus for corpus in OWN_RM_CORPORA if corpus not in REANALYSIS_DICTIONARY]
"""The own Figure 1 analyses of lexicons beyond the published reanalysis' (figures fig1_<id>_own, figA1_<id>_own)."""
OWN_RM_CATEGORY = "Configured reward models"
# The report category of the statistics tables. Not "Statistics": the report's front page
# links Snakemake's own runtime-statistics panel under that name, and a category of the same
# name is a second rst target "statistics" (a docutils warning on the front page).
STATS_CATEGORY = "Statistical tests"
# Every family term under the published specification, the maximal model and the RM-level tests.
EVIDENCE_CATEGORY = "Strength of evidence"
# Appendix H.1 tables: one per run of Figures 5 / A6, when checkpoints are scored over the whole
# vocabulary (training.checkpoint_scope: vocab)
H1_RUNS = list(dict.fromkeys(RANK_CHANGES.values())) if TRAINING_ON and TRAINING["checkpoint_scope"] == "vocab" else []


def fig2_figure_params(models, lexicon_id):
    """The params of a Figure 2 figure: its models, its lexicon and the x axis' title naming it."""
    return {"models": models, "lexicon": lexicon_id, "category_axis": f"{LEXICONS[lexicon_id]['label']} category"}


def figure(alias, rule, stage, caption, category, enabled, params=None, stats=None):
    """One registry entry; ``stats`` is the prefix of the statistics files the figure draws
    (results/stats/<stats>_*), for rules that draw one figure per statistics set."""
    return dict(
        alias=alias, rule=rule, stage=stage, caption=caption, category=category,
        enabled=bool(enabled), params=params or {}, stats=stats,
    )


FIGURES = {
    # Section 2, reanalysis of the published RM scores
    "fig1a_big2": figure("fig1a", "fig1_figure", "reanalysis", "fig1_figure.rst", "Reward models in the wild", REANALYSIS_ON, {"points": "rm"}, "fig1_big2"),
    "fig1b_mfd": figure("fig1b", "fig1_figure", "reanalysis", "fig1_figure.rst", "Reward models in the wild", REANALYSIS_ON, {"points": "rm"}, "fig1_mfd"),
    "figA1a_big2": figure("figA1a", "fig1_figure", "reanalysis", "fig1_figure.rst", "Reward models in the wild", REANALYSIS_ON, {"points": "rm_prompt"}, "fig1_big2"),
    "figA1b_mfd": figure("figA1b", "fig1_figure", "reanalysis", "fig1_figure.rst", "Reward models in the wild", REANALYSIS_ON, {"points": "rm_prompt"}, "fig1_mfd"),
    # the configured RMs, measured like the published ones (rules/own_rms.smk)
    "fig1a_big2_own": figure("fig1a_own", "fig1_own_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "big2" in OWN_RM_CORPORA, {"points": "rm"}, "fig1_big2_own"),
    "fig1b_mfd_own": figure("fig1b_own", "fig1_own_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "mfd" in OWN_RM_CORPORA, {"points": "rm"}, "fig1_mfd_own"),
    "figA1a_big2_own": figure("figA1a_own", "fig1_own_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "big2" in OWN_RM_CORPORA, {"points": "rm_prompt"}, "fig1_big2_own"),
    "figA1b_mfd_own": figure("figA1b_own", "fig1_own_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "mfd" in OWN_RM_CORPORA, {"points": "rm_prompt"}, "fig1_mfd_own"),
    "fig1a_big2_combined": figure("fig1a_combined", "fig1_combined_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "big2" in OWN_RM_CORPORA, stats="fig1_big2"),
    "fig1b_mfd_combined": figure("fig1b_combined", "fig1_combined_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, "mfd" in OWN_RM_CORPORA, stats="fig1_mfd"),
    # every other lexicon of the dictionary scope, Figure 1/A1 style
    **{
        f"{figure_name}_{corpus}_own": figure(f"{figure_name}_{corpus}_own", "fig1_own_figure", "own_rms", "fig1_own_figure.rst", OWN_RM_CATEGORY, True, {"points": points}, f"fig1_{corpus}_own")
        for corpus in LEXICON_CORPORA
        for figure_name, points in (("fig1", "rm"), ("figA1", "rm_prompt"))
    },
    "rm_profiles": figure("profiles", "rm_profile_figure", "own_rms", "rm_profiles.rst", OWN_RM_CATEGORY, PROFILE_CORPORA,
                          {"published_dictionaries": PROFILE_CORPORA, "configured_dictionaries": OWN_RM_CORPORA}),
    "fig4b_ablations": figure("fig4b", "published_ablation_figure", "reanalysis", "published_ablation_figure.rst", "RM training (published)", REANALYSIS_ON, {"include_qwen": False}),
    "figA5b_ablations": figure("figA5b", "published_ablation_figure", "reanalysis", "published_ablation_figure.rst", "RM training (published)", REANALYSIS_ON, {"include_qwen": True}),
    # Section 3, base models and implicit reward models
    # Figure 2 of each set per lexicon of implicit.fig2_lexicons: the paper's lexicon under the
    # paper's names (fig2a_instruct, alias fig2a), any other as fig2a_instruct_<id> (alias fig2a_<id>)
    **{
        f"{panel}_{fig2_set_name(variant, lexicon_id)}": figure(
            fig2_set_name(panel, lexicon_id), "fig2_figure", "base_models",
            "fig2_figure.rst", "Base models", variant in FIG2_VARIANTS, fig2_figure_params(FIG2_VARIANTS.get(variant), lexicon_id),
            f"fig2_{fig2_set_name(variant, lexicon_id)}",
        )
        for lexicon_id in FIG2_LEXICONS
        for panel, variant in (("fig2a", "instruct"), ("fig2b", "pretrained"))
    },
    "fig3_lollipop": figure("fig3", "fig3_figure", "base_models", "fig3_lollipop.rst", "Implicit reward models", FIG3_PAIRS),
    # the same sets and pairs with a borrowed template's model also rendered as the plain prompt
    "fig2a_instruct_renderings": figure("fig2a_renderings", "fig2_rendering_figure", "base_models", "fig2_renderings.rst", "Base models", "instruct" in FIG2_RENDERING_SETS, fig2_figure_params(FIG2_RENDERING_SETS.get("instruct"), FIG2_PAPER_LEXICON), "fig2_instruct"),
    "fig2b_pretrained_renderings": figure("fig2b_renderings", "fig2_rendering_figure", "base_models", "fig2_renderings.rst", "Base models", "pretrained" in FIG2_RENDERING_SETS, fig2_figure_params(FIG2_RENDERING_SETS.get("pretrained"), FIG2_PAPER_LEXICON), "fig2_pretrained"),
    "fig3_lollipop_renderings": figure("fig3_renderings", "fig3_rendering_figure", "base_models", "fig3_renderings.rst", "Implicit reward models", FIG3_RENDERING_PAIRS["template"]),
    # Appendix F
    "figA3a_authority": figure("figA3a", "authority_figures", "authority_boost", "figA3a_authority.rst", "Implicit reward models", AUTHORITY["enabled"]),
    "figA3b_authority": figure("figA3b", "authority_figures", "authority_boost", "figA3b_authority.rst", "Implicit reward models", AUTHORITY["enabled"]),
    # Section 4 and Appendices G, H: the workflow's own training runs
    "fig4a_training_checkpoints": figure("fig4a", "checkpoint_figure", "training", "checkpoint_figure.rst", "RM training", TRAINING_ON and bool(set(CHECKPOINT_RUNS) & set(NON_QWEN_RUNS)), {"runs": CHECKPOINT_RUNS, "include_qwen": False}),
    "figA5a_training_checkpoints": figure("figA5a", "checkpoint_figure", "training", "checkpoint_figure.rst", "RM training", TRAINING_ON and CHECKPOINT_RUNS, {"runs": CHECKPOINT_RUNS, "include_qwen": True}),
    "fig4b_ablations_own": figure("fig4b_own", "own_ablation_figure", "training", "own_ablation_figure.rst", "RM training", TRAINING_ON and bool(NON_QWEN_RUNS), {"include_qwen": False}),
    "figA5b_ablations_own": figure("figA5b_own", "own_ablation_figure", "training", "own_ablation_figure.rst", "RM training", TRAINING_ON, {"include_qwen": True}),
    "fig5_llama": figure("fig5_llama", "rank_change_figure", "training", "rank_change_figure.rst", "RM training", TRAINING_ON and "fig5_llama" in RANK_CHANGES, {"run": RANK_CHANGES.get("fig5_llama")}),
    "fig5_gemma": figure("fig5_gemma", "rank_change_figure", "training", "rank_change_figure.rst", "RM training", TRAINING_ON and "fig5_gemma" in RANK_CHANGES, {"run": RANK_CHANGES.get("fig5_gemma")}),
    "figA6_qwen": figure("figA6", "rank_change_figure", "training", "rank_change_figure.rst", "RM training", TRAINING_ON and "figA6_qwen" in RANK_CHANGES, {"run": RANK_CHANGES.get("figA6_qwen")}),
    "figA7_trajectories": figure("figA7", "trajectory_figure", "training", "figA7_trajectories.rst", "RM training", TRAINING_ON and RANK_CHANGES, {"runs": {name: run for name, run in RANK_CHANGES.items()}}),
    "figG1_kendall": figure("figG1", "kendall_figure", "training", "figG1_kendall.rst", "RM training", TRAINING_ON and CHECKPOINT_RUNS, {"runs": CHECKPOINT_RUNS}),
}


def figure_files(*names):
    return [f"results/figures/{name}.{ext}" for name in names for ext in ("pdf", "png")]


def enabled_figures(rule=None, stage=None):
    """Names of the enabled figures, optionally only those of one rule or one stage."""
    return [
        name
        for name, entry in FIGURES.items()
        if entry["enabled"] and rule in (None, entry["rule"]) and stage in (None, entry["stage"])
    ]


def figure_pdf(rule, name="{figure}"):
    """The PDF output of a figure rule, marked for the report with its registry caption and
    category: figure ``name``, or with the default every figure of ``rule`` (which must share
    one caption and category)."""
    entries = [FIGURES[name]] if name in FIGURES else [e for e in FIGURES.values() if e["rule"] == rule]
    captions = {(e["caption"], e["category"]) for e in entries}
    if len(captions) != 1:
        raise ValueError(f"rules/figures.smk: the figures of rule {rule} need one caption and category, not {sorted(captions)}")
    ((caption, category),) = captions
    return report(f"results/figures/{name}.pdf", caption=f"../report/captions/{caption}", category=category)


def figure_params(rule):
    """The params of a figure rule: the registry ``params`` of the figure it draws (a rule that
    draws one figure gets the values, one with a ``figure`` wildcard looks them up)."""
    entries = [e for e in FIGURES.values() if e["rule"] == rule]
    if len(entries) == 1:
        return dict(entries[0]["params"])
    return {key: (lambda wc, key=key: FIGURES[wc.figure]["params"][key]) for key in entries[0]["params"]}


def caption_runs(run_ids, include_qwen=True):
    """The training runs of ``run_ids`` that a figure draws, one phrase each, for its caption:
    a figure rule's param (report captions read ``snakemake.params``; rmbias/figures/captions.py)."""
    return training_run_phrases(config, run_ids, include_qwen)


def prompt_text(key):
    """The text of prompt ``key`` of the config's prompts file, for a caption that quotes it."""
    return PROMPTS[key]["text"]


def figure_stats(wc, kind):
    """results/stats/<stats>_<kind> of the figure named by the ``figure`` wildcard."""
    return f"results/stats/{FIGURES[wc.figure]['stats']}_{kind}"


# --- Targets of each stage (rule all, rule reanalysis) ----------------------

def reanalysis_targets():
    """Section 2 from the published data: Figures 1, A1, 4b, A5b and their statistics."""
    if not config["reanalysis"]["enabled"]:
        return []
    stats = [
        f"results/stats/fig1_{corpus}_{name}.{ext}"
        for corpus in ("big2", "mfd")
        for name in ("mixed_model", "maximal_model", "evidence", "panel_tests", "means", "rm_level")
        for ext in ("json", "csv")
    ] + [f"results/stats/fig1_{corpus}_rm_contrasts.csv" for corpus in ("big2", "mfd")]
    return stats + ["results/stats/published_ablations.csv"] + figure_files(*enabled_figures(stage="reanalysis"))


def own_rm_targets():
    """The configured RMs measured like the published ones: their Figure 1/A1 with statistics,
    the combined figures, the value profiles and family identifiability."""
    if not OWN_RM_CORPORA:
        return []
    stats = [
        f"results/stats/fig1_{corpus}_own_{name}.{ext}"
        for corpus in OWN_RM_CORPORA
        for name in ("mixed_model", "maximal_model", "evidence", "panel_tests", "means", "rm_level")
        for ext in ("json", "csv")
    ] + [f"results/stats/fig1_{corpus}_own_rm_contrasts.csv" for corpus in OWN_RM_CORPORA]
    profiles = ["results/stats/rm_profiles.csv", "results/stats/family_identifiability.json"] if PROFILE_CORPORA else []
    return stats + profiles + figure_files(*enabled_figures(stage="own_rms"))


def scoring_targets():
    logprobs = [f"results/logprobs/{m}.parquet" for m in LLMS]
    scores = [f"results/rm_scores/{scope}/{m}.parquet" for scope in SEARCH_SCOPES for m in RMS]
    checks = [f"results/stats/reproduction/{m}.csv" for m, e in RMS.items() if e.get("published_scores")]
    prompts = [f"results/prompts/{m}.csv" for m in [*LLMS, *RMS]]
    lexicon_tokens = [f"results/tokens/lexicons/{lexicon_id}.parquet" for lexicon_id in SINGLE_TOKEN_MODELS]
    return logprobs + scores + checks + prompts + lexicon_tokens


def base_model_targets():
    """Section 3: Figure 2 (with its statistics), Figure 3, the MWLR tables and top-k."""
    targets = [f"results/stats/fig2_{fig2_set_name(variant, lexicon_id)}_anova.json" for lexicon_id in FIG2_LEXICONS for variant in FIG2_VARIANTS]
    # rendering sensitivity of the sets and pairs with a borrowed template (rules/common.smk)
    targets += ["results/stats/fig2_rendering_sensitivity.json"] if FIG2_RENDERING_SETS else []
    targets += ["results/stats/fig3_rendering_sensitivity.csv"] if FIG3_RENDERING_PAIRS["template"] else []
    targets += [f"results/prompts/{m}.csv" for m in PLAIN_ENTRIES]
    targets += [f"results/tables/{name}.{ext}" for name in TABLES for ext in ("tex", "csv")]
    if TOPK_ON:
        targets.append("results/stats/topk.json")
    return targets + figure_files(*enabled_figures(stage="base_models"))


def authority_boost_targets():
    """Appendix F: Figures A3a and A3b, and the generation check."""
    if not AUTHORITY["enabled"]:
        return []
    return ["results/stats/authority_generation.json"] + figure_files(*enabled_figures(stage="authority_boost"))


def training_targets():
    """Section 4: checkpoint dynamics, own ablations, rank changes, Kendall tau."""
    if not TRAINING_ON:
        return []
    tables = [f"results/tables/tableH1_{run}.{ext}" for run in H1_RUNS for ext in ("csv", "tex")]
    return ["results/stats/training_dynamics.json"] + tables + figure_files(*enabled_figures(stage="training"))


def all_targets():
    return (
        ["results/config_used.yaml"]
        + reanalysis_targets()
        + scoring_targets()
        + own_rm_targets()
        + base_model_targets()
        + authority_boost_targets()
        + training_targets()
    )
