# Figures (plotnine, PDF + PNG), each wrapped in report() with the caption and category of its
# entry in the figure registry (rules/figure_registry.smk), which also gives each figure
# rule's wildcard constraint and params. The params pairs, prompt and training_runs are read by
# the caption alone (caption_runs, prompt_text): the models and runs it names are the config's.


rule fig1_figure:
    input:
        observations=lambda wc: figure_stats(wc, "observations.parquet"),
        panel_tests=lambda wc: figure_stats(wc, "panel_tests.csv"),
    output:
        pdf=figure_pdf("fig1_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("fig1_figure"),
    wildcard_constraints:
        figure=one_of(enabled_figures("fig1_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_figure.py"


rule fig1_own_figure:
    input:
        observations=lambda wc: figure_stats(wc, "observations.parquet"),
        panel_tests=lambda wc: figure_stats(wc, "panel_tests.csv"),
    output:
        pdf=figure_pdf("fig1_own_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("fig1_own_figure"),
    wildcard_constraints:
        figure=one_of(enabled_figures("fig1_own_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_figure.py"


rule fig1_combined_figure:
    input:
        observations=lambda wc: figure_stats(wc, "observations.parquet"),
        panel_tests=lambda wc: figure_stats(wc, "panel_tests.csv"),
        configured=lambda wc: figure_stats(wc, "own_observations.parquet"),
    output:
        pdf=figure_pdf("fig1_combined_figure"),
        png="results/figures/{figure}.png",
    wildcard_constraints:
        figure=one_of(enabled_figures("fig1_combined_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig1_combined_figure.py"


rule rm_profile_figure:
    input:
        profiles="results/stats/rm_profiles.csv",
    output:
        pdf=figure_pdf("rm_profile_figure", "rm_profiles"),
        png="results/figures/rm_profiles.png",
    params:
        **figure_params("rm_profile_figure"),
    log:
        "logs/figures/rm_profiles.log",
    benchmark:
        "results/benchmarks/figures/rm_profiles.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rm_profile_figure.py"


rule published_ablation_figure:
    input:
        ablations="results/stats/published_ablations.csv",
        warnings="results/stats/published_ablations_warnings.json",
    output:
        pdf=figure_pdf("published_ablation_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("published_ablation_figure"),
    wildcard_constraints:
        figure=one_of(enabled_figures("published_ablation_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/published_ablation_figure.py"


rule fig2_figure:
    input:
        observations=lambda wc: figure_stats(wc, "observations.parquet"),
        welch=lambda wc: figure_stats(wc, "welch.csv"),
    output:
        pdf=figure_pdf("fig2_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("fig2_figure"),
    wildcard_constraints:
        figure=one_of(enabled_figures("fig2_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_figure.py"


rule fig3_figure:
    input:
        "results/stats/fig3_mwlr.csv",
    output:
        pdf=figure_pdf("fig3_figure", "fig3_lollipop"),
        png="results/figures/fig3_lollipop.png",
    params:
        pairs=lambda wc: FIG3_PAIRS,
        prompt=lambda wc: prompt_text(IMPLICIT["prompt"]),
    log:
        "logs/figures/fig3_lollipop.log",
    benchmark:
        "results/benchmarks/figures/fig3_lollipop.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig3_figure.py"


# One Figure 2 set with its borrowed-template model under both renderings, side by side.
rule fig2_rendering_figure:
    input:
        observations=lambda wc: fig2_rendering_files(FIGURES[wc.figure]["stats"], "observations.parquet"),
        welch=lambda wc: fig2_rendering_files(FIGURES[wc.figure]["stats"], "welch.csv"),
        anova=lambda wc: fig2_rendering_files(FIGURES[wc.figure]["stats"], "anova.csv"),
    output:
        pdf=figure_pdf("fig2_rendering_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("fig2_rendering_figure"),
    wildcard_constraints:
        figure=one_of(enabled_figures("fig2_rendering_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_rendering_figure.py"


rule fig3_rendering_figure:
    input:
        "results/stats/fig3_rendering_sensitivity.csv",
    output:
        pdf=figure_pdf("fig3_rendering_figure", "fig3_lollipop_renderings"),
        png="results/figures/fig3_lollipop_renderings.png",
    params:
        pairs=lambda wc: FIG3_RENDERING_PAIRS,
        prompt=lambda wc: prompt_text(IMPLICIT["prompt"]),
    log:
        "logs/figures/fig3_lollipop_renderings.log",
    benchmark:
        "results/benchmarks/figures/fig3_lollipop_renderings.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig3_figure.py"


rule authority_figures:
    input:
        recovery="results/stats/authority_recovery.csv",
        words="results/stats/authority_words.csv",
        generation="results/stats/authority_generation.csv",
    output:
        recovery_pdf=figure_pdf("authority_figures", "figA3a_authority"),
        recovery_png="results/figures/figA3a_authority.png",
        words_pdf=figure_pdf("authority_figures", "figA3b_authority"),
        words_png="results/figures/figA3b_authority.png",
    log:
        "logs/figures/figA3_authority.log",
    benchmark:
        "results/benchmarks/figures/figA3_authority.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/authority_figures.py"


rule checkpoint_figure:
    input:
        "results/stats/training_checkpoint_ranks.csv",
    output:
        pdf=figure_pdf("checkpoint_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("checkpoint_figure"),
        training_runs=lambda wc: caption_runs(FIGURES[wc.figure]["params"]["runs"], FIGURES[wc.figure]["params"]["include_qwen"]),
        prompt=lambda wc: prompt_text(TRAINING["score_prompt"]),
    wildcard_constraints:
        figure=one_of(enabled_figures("checkpoint_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/checkpoint_figure.py"


rule own_ablation_figure:
    input:
        "results/stats/training_final_ranks.csv",
    output:
        pdf=figure_pdf("own_ablation_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("own_ablation_figure"),
        training_runs=lambda wc: caption_runs(RUNS, FIGURES[wc.figure]["params"]["include_qwen"]),
    wildcard_constraints:
        figure=one_of(enabled_figures("own_ablation_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/own_ablation_figure.py"


rule rank_change_figure:
    input:
        "results/stats/training_rank_changes.csv",
    output:
        pdf=figure_pdf("rank_change_figure"),
        png="results/figures/{figure}.png",
    params:
        **figure_params("rank_change_figure"),
        training_runs=lambda wc: caption_runs([FIGURES[wc.figure]["params"]["run"]]),
    wildcard_constraints:
        figure=one_of(enabled_figures("rank_change_figure")),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rank_change_figure.py"


rule trajectory_figure:
    input:
        changes="results/stats/training_rank_changes.csv",
        trajectories="results/stats/training_rank_trajectories.csv",
    output:
        pdf=figure_pdf("trajectory_figure", "figA7_trajectories"),
        png="results/figures/figA7_trajectories.png",
    params:
        **figure_params("trajectory_figure"),
        training_runs=lambda wc: caption_runs(RANK_CHANGES.values()),
    log:
        "logs/figures/figA7_trajectories.log",
    benchmark:
        "results/benchmarks/figures/figA7_trajectories.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/trajectory_figure.py"


rule kendall_figure:
    input:
        "results/stats/training_kendall.csv",
    output:
        pdf=figure_pdf("kendall_figure", "figG1_kendall"),
        png="results/figures/figG1_kendall.png",
    params:
        **figure_params("kendall_figure"),
        training_runs=lambda wc: caption_runs(CHECKPOINT_RUNS),
    log:
        "logs/figures/figG1_kendall.log",
    benchmark:
        "results/benchmarks/figures/figG1_kendall.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/kendall_figure.py"
