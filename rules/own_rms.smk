# The configured reward models measured like the published ones (issue 13): Figure 1/A1 and
# its statistics from the workflow's own dictionary-scope scores (results/rm_scores/dictionary/<lexicon>/),
# through the same path as the published reanalysis (rmbias.statistics.figure1), and a value profile per
# RM beside the 10 published ones with a family classifier (rmbias.statistics.profiles). An RM may be
# of any family, read from its config entry (params.families): the family tests compare the Llama with the
# Gemma RMs, an RM of another family is profiled, placed among the published RMs and on the classifier's
# Llama-Gemma axis, and named where a two-family test leaves it out. Enabled when
# reward_models is non-empty and the dictionary scope is scored (OWN_RM_CORPORA, in
# rules/figure_registry.smk): one Figure 1 analysis per lexicon of scoring.dictionary_corpora
# (big2 / mfd for big2_nouns / mfd2, else the lexicon's id, with its reference category and
# category factor name); the value profiles cover every one of these analyses and stand beside
# the published RMs' where those exist (big2 and mfd, PROFILE_CORPORA: percentiles among the
# published RMs and the family classifier's features). Its figures are registry entries of stage "own_rms".


rule fig1_own:
    input:
        corpus=lambda wc: f"results/corpora/{analysis_lexicon(wc.corpus)}.parquet",
        scores=lambda wc: [f"results/rm_scores/{dictionary_scope(analysis_lexicon(wc.corpus))}/{rm}.parquet" for rm in RMS],
    output:
        observations="results/stats/fig1_{corpus}_own_observations.parquet",
        mixed_model_json="results/stats/fig1_{corpus}_own_mixed_model.json",
        mixed_model_csv=report("results/stats/fig1_{corpus}_own_mixed_model.csv", caption="../report/captions/stats_fig1_own.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        maximal_model_json="results/stats/fig1_{corpus}_own_maximal_model.json",
        maximal_model_csv=report("results/stats/fig1_{corpus}_own_maximal_model.csv", caption="../report/captions/stats_fig1_maximal_model.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        evidence_json="results/stats/fig1_{corpus}_own_evidence.json",
        evidence_csv=report("results/stats/fig1_{corpus}_own_evidence.csv", caption="../report/captions/stats_fig1_evidence.rst", category=EVIDENCE_CATEGORY, subcategory="Configured RMs"),
        panel_tests_json="results/stats/fig1_{corpus}_own_panel_tests.json",
        panel_tests_csv=report("results/stats/fig1_{corpus}_own_panel_tests.csv", caption="../report/captions/stats_fig1_own.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        means_json="results/stats/fig1_{corpus}_own_means.json",
        means_csv=report("results/stats/fig1_{corpus}_own_means.csv", caption="../report/captions/stats_fig1_own.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        rm_contrasts_csv=report("results/stats/fig1_{corpus}_own_rm_contrasts.csv", caption="../report/captions/stats_fig1_own_rm_level.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        rm_level_json="results/stats/fig1_{corpus}_own_rm_level.json",
        rm_level_csv=report("results/stats/fig1_{corpus}_own_rm_level.csv", caption="../report/captions/stats_fig1_own_rm_level.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
    params:
        rm_ids=list(RMS),
        families={rm: entry["family"] for rm, entry in RMS.items()},
        prompts=PROMPTS,
        mfd_scheme=lambda wc: config["reanalysis"]["mfd_scheme"] if wc.corpus == "mfd" else None,
        category_name=lambda wc: LEXICONS[analysis_lexicon(wc.corpus)]["category_name"],
        reference_category=lambda wc: LEXICONS[analysis_lexicon(wc.corpus)].get("reference_category"),
        n_permutations=config["reanalysis"]["n_permutations"],
        seed=config["reanalysis"]["seed"],
        star_p=config["reanalysis"]["own_star_p"],
    wildcard_constraints:
        corpus=one_of(OWN_RM_CORPORA),
    log:
        "logs/fig1_own/{corpus}.log",
    benchmark:
        "results/benchmarks/fig1_own/{corpus}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_own.py"


rule rm_profiles:
    input:
        published=expand("results/stats/fig1_{corpus}_observations.parquet", corpus=PROFILE_CORPORA),
        configured=expand("results/stats/fig1_{corpus}_own_observations.parquet", corpus=OWN_RM_CORPORA),
    output:
        profiles=report("results/stats/rm_profiles.csv", caption="../report/captions/stats_rm_profiles.rst", category=OWN_RM_CATEGORY, subcategory="Tables"),
        identifiability="results/stats/family_identifiability.json",
    params:
        published_dictionaries=PROFILE_CORPORA,
        configured_dictionaries=OWN_RM_CORPORA,
        n_bootstrap=config["reanalysis"]["profile_bootstrap"],
        level=config["reanalysis"]["profile_interval"],
        seed=config["reanalysis"]["seed"],
        max_relabellings=config["reanalysis"]["n_permutations"],
    log:
        "logs/rm_profiles.log",
    benchmark:
        "results/benchmarks/rm_profiles.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rm_profiles.py"
