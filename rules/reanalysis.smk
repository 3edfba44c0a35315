# Reanalysis of the published data (Section 2, Figures 1/A1, 4b/A5b): the statistics of
# Figure 1 from the published RM scores of every dictionary, and the published ablation runs.
# Every statistic is written as JSON and CSV with its test, statistic, degrees of freedom, p
# and correction.


rule fig1_reanalysis:
    input:
        corpus=lambda wc: f"results/corpora/{REANALYSIS_DICTIONARY[wc.corpus]}.parquet",
        scores=lambda wc: list(published_scores(wc.corpus).values()),
    output:
        observations="results/stats/fig1_{corpus}_observations.parquet",
        mixed_model_json="results/stats/fig1_{corpus}_mixed_model.json",
        mixed_model_csv=report("results/stats/fig1_{corpus}_mixed_model.csv", caption="../report/captions/stats_fig1_mixed_model.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
        maximal_model_json="results/stats/fig1_{corpus}_maximal_model.json",
        maximal_model_csv=report("results/stats/fig1_{corpus}_maximal_model.csv", caption="../report/captions/stats_fig1_maximal_model.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
        evidence_json="results/stats/fig1_{corpus}_evidence.json",
        evidence_csv=report("results/stats/fig1_{corpus}_evidence.csv", caption="../report/captions/stats_fig1_evidence.rst", category=EVIDENCE_CATEGORY, subcategory="Published RMs"),
        panel_tests_json="results/stats/fig1_{corpus}_panel_tests.json",
        panel_tests_csv=report("results/stats/fig1_{corpus}_panel_tests.csv", caption="../report/captions/stats_fig1_panel_tests.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
        means_json="results/stats/fig1_{corpus}_means.json",
        means_csv=report("results/stats/fig1_{corpus}_means.csv", caption="../report/captions/stats_fig1_means.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
        rm_contrasts_csv=report("results/stats/fig1_{corpus}_rm_contrasts.csv", caption="../report/captions/stats_fig1_rm_contrasts.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
        rm_level_json="results/stats/fig1_{corpus}_rm_level.json",
        rm_level_csv=report("results/stats/fig1_{corpus}_rm_level.csv", caption="../report/captions/stats_fig1_rm_level.rst", category=STATS_CATEGORY, subcategory="Figure 1"),
    params:
        rm_names=lambda wc: list(published_scores(wc.corpus)),
        prompts=PROMPTS,
        mfd_scheme=lambda wc: config["reanalysis"]["mfd_scheme"] if wc.corpus == "mfd" else None,
        n_permutations=config["reanalysis"]["n_permutations"],
        seed=config["reanalysis"]["seed"],
        star_p=config["reanalysis"]["star_p"],
    wildcard_constraints:
        corpus="big2|mfd",
    log:
        "logs/fig1_reanalysis/{corpus}.log",
    benchmark:
        "results/benchmarks/fig1_reanalysis/{corpus}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_reanalysis.py"


rule published_ablations:
    input:
        lambda wc: [reference(p) for p in PUBLISHED_ABLATIONS.values()],
    output:
        csv="results/stats/published_ablations.csv",
        warnings="results/stats/published_ablations_warnings.json",
    params:
        labels=list(PUBLISHED_ABLATIONS),
        identical_files=config["reanalysis"]["fig4b_identical_files"],
    log:
        "logs/published_ablations.log",
    benchmark:
        "results/benchmarks/published_ablations.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/published_ablations.py"
