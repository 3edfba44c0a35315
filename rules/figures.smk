# Stage 5: figures (plotnine, PDF + PNG), each wrapped in report() with its caption.

FIG1_FIGURES = {
    "fig1a_big2": ("big2", "rm"),
    "fig1b_mfd": ("mfd", "rm"),
    "figA1a_big2": ("big2", "rm_prompt"),
    "figA1b_mfd": ("mfd", "rm_prompt"),
}
PUBLISHED_ABLATION_FIGURES = {"fig4b_ablations": False, "figA5b_ablations": True}


rule fig1_figure:
    input:
        observations=lambda wc: f"results/stats/fig1_{FIG1_FIGURES[wc.figure][0]}_observations.parquet",
        panel_tests=lambda wc: f"results/stats/fig1_{FIG1_FIGURES[wc.figure][0]}_panel_tests.csv",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/{figure}.rst", category="Reward models in the wild"),
        png="results/figures/{figure}.png",
    params:
        points=lambda wc: FIG1_FIGURES[wc.figure][1],
    wildcard_constraints:
        figure="|".join(FIG1_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    script:
        "../workflow_scripts/fig1_figure.py"


rule published_ablation_figure:
    input:
        ablations="results/stats/published_ablations.csv",
        warnings="results/stats/published_ablations_warnings.json",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/{figure}.rst", category="RM training (published)"),
        png="results/figures/{figure}.png",
    params:
        include_qwen=lambda wc: PUBLISHED_ABLATION_FIGURES[wc.figure],
    wildcard_constraints:
        figure="|".join(PUBLISHED_ABLATION_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    script:
        "../workflow_scripts/published_ablation_figure.py"
