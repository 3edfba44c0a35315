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
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/fig1_figure.rst", category="Reward models in the wild"),
        png="results/figures/{figure}.png",
    params:
        points=lambda wc: FIG1_FIGURES[wc.figure][1],
    wildcard_constraints:
        figure="|".join(FIG1_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_figure.py"


rule published_ablation_figure:
    input:
        ablations="results/stats/published_ablations.csv",
        warnings="results/stats/published_ablations_warnings.json",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/published_ablation_figure.rst", category="RM training (published)"),
        png="results/figures/{figure}.png",
    params:
        include_qwen=lambda wc: PUBLISHED_ABLATION_FIGURES[wc.figure],
    wildcard_constraints:
        figure="|".join(PUBLISHED_ABLATION_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/published_ablation_figure.py"


FIG2_FIGURES = {"fig2a_instruct": "instruct", "fig2b_pretrained": "pretrained"}
CHECKPOINT_FIGURES = {"fig4a_training_checkpoints": False, "figA5a_training_checkpoints": True}
OWN_ABLATION_FIGURES = {"fig4b_ablations_own": False, "figA5b_ablations_own": True}
RANK_CHANGE_FIGURES = TRAINING["figures"]["rank_changes"]


rule fig2_figure:
    input:
        observations=lambda wc: f"results/stats/fig2_{FIG2_FIGURES[wc.figure]}_observations.parquet",
        welch=lambda wc: f"results/stats/fig2_{FIG2_FIGURES[wc.figure]}_welch.csv",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/fig2_figure.rst", category="Base models"),
        png="results/figures/{figure}.png",
    params:
        models=lambda wc: FIG2_VARIANTS[FIG2_FIGURES[wc.figure]],
    wildcard_constraints:
        figure="|".join(FIG2_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_figure.py"


rule fig3_figure:
    input:
        "results/stats/fig3_mwlr.csv",
    output:
        pdf=report("results/figures/fig3_lollipop.pdf", caption="../report/captions/fig3_lollipop.rst", category="Implicit reward models"),
        png="results/figures/fig3_lollipop.png",
    log:
        "logs/figures/fig3_lollipop.log",
    benchmark:
        "benchmarks/out/figures/fig3_lollipop.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig3_figure.py"


rule authority_figures:
    input:
        recovery="results/stats/authority_recovery.csv",
        words="results/stats/authority_words.csv",
    output:
        recovery_pdf=report("results/figures/figA3a_authority.pdf", caption="../report/captions/figA3a_authority.rst", category="Implicit reward models"),
        recovery_png="results/figures/figA3a_authority.png",
        words_pdf=report("results/figures/figA3b_authority.pdf", caption="../report/captions/figA3b_authority.rst", category="Implicit reward models"),
        words_png="results/figures/figA3b_authority.png",
    log:
        "logs/figures/figA3_authority.log",
    benchmark:
        "benchmarks/out/figures/figA3_authority.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/authority_figures.py"


rule checkpoint_figure:
    input:
        "results/stats/training_checkpoint_ranks.csv",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/checkpoint_figure.rst", category="RM training"),
        png="results/figures/{figure}.png",
    params:
        runs=TRAINING["figures"]["checkpoint_runs"],
        include_qwen=lambda wc: CHECKPOINT_FIGURES[wc.figure],
    wildcard_constraints:
        figure="|".join(CHECKPOINT_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/checkpoint_figure.py"


rule own_ablation_figure:
    input:
        "results/stats/training_final_ranks.csv",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/own_ablation_figure.rst", category="RM training"),
        png="results/figures/{figure}.png",
    params:
        include_qwen=lambda wc: OWN_ABLATION_FIGURES[wc.figure],
    wildcard_constraints:
        figure="|".join(OWN_ABLATION_FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/own_ablation_figure.py"


rule rank_change_figure:
    input:
        "results/stats/training_rank_changes.csv",
    output:
        pdf=report("results/figures/{figure}.pdf", caption="../report/captions/rank_change_figure.rst", category="RM training"),
        png="results/figures/{figure}.png",
    params:
        run=lambda wc: RANK_CHANGE_FIGURES[wc.figure],
    wildcard_constraints:
        figure="|".join(RANK_CHANGE_FIGURES) or "no-rank-change-figures",
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/out/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rank_change_figure.py"


rule kendall_figure:
    input:
        "results/stats/training_kendall.csv",
    output:
        pdf=report("results/figures/figG1_kendall.pdf", caption="../report/captions/figG1_kendall.rst", category="RM training"),
        png="results/figures/figG1_kendall.png",
    params:
        runs=TRAINING["figures"]["checkpoint_runs"],
    log:
        "logs/figures/figG1_kendall.log",
    benchmark:
        "benchmarks/out/figures/figG1_kendall.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/kendall_figure.py"
