# Base models (Section 3): statistics of the log-probability ranks (Figure 2, one analysis per set
# and lexicon of implicit.fig2_lexicons: FIG2_SETS in rules/common.smk), implicit reward
# models between two LLMs (MWLR and the other candidate measures), Figure 3's pairs, the MWLR
# tables (Tables 1/A2/A3) and the top-k analysis of the RMs' vocabulary scores.

rule implicit_pair:
    input:
        logprobs_a="results/logprobs/{a}.parquet",
        logprobs_b="results/logprobs/{b}.parquet",
    output:
        "results/implicit/{prompt}/{a}__{b}.parquet",
    params:
        prompt="{prompt}",
    wildcard_constraints:
        a=r"[A-Za-z0-9][A-Za-z0-9._-]*",
        b=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    log:
        "logs/implicit_pair/{prompt}/{a}__{b}.log",
    benchmark:
        "results/benchmarks/implicit_pair/{prompt}/{a}__{b}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/implicit_pair.py"


rule fig2_stats:
    input:
        logprobs=lambda wc: [f"results/logprobs/{m}.parquet" for m in FIG2_SETS[wc.variant]["models"]],
        corpus=lambda wc: f"results/corpora/{FIG2_SETS[wc.variant]['lexicon']}.parquet",
    output:
        observations="results/stats/fig2_{variant}_observations.parquet",
        anova_csv=report("results/stats/fig2_{variant}_anova.csv", caption="../report/captions/stats_fig2_anova.rst", category=STATS_CATEGORY, subcategory="Figure 2"),
        anova_json="results/stats/fig2_{variant}_anova.json",
        welch_csv=report("results/stats/fig2_{variant}_welch.csv", caption="../report/captions/stats_fig2_welch.rst", category=STATS_CATEGORY, subcategory="Figure 2"),
        welch_json="results/stats/fig2_{variant}_welch.json",
    params:
        models=lambda wc: FIG2_SETS[wc.variant]["models"],
        lexicon=lambda wc: FIG2_SETS[wc.variant]["lexicon"],
        prompts=PROMPTS,
    wildcard_constraints:
        variant=one_of(FIG2_SETS),
    log:
        "logs/fig2_stats/{variant}.log",
    benchmark:
        "results/benchmarks/fig2_stats/{variant}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_stats.py"


# Rendering sensitivity: each Figure 2 set holding a pretrained model with a borrowed chat
# template, its ANOVA terms with that model rendered through the template and as the plain
# prompt, side by side (rmbias/implicit/rendering.py).
rule fig2_rendering_sensitivity:
    input:
        anova=[path for variant in FIG2_RENDERING_SETS for path in fig2_rendering_files(f"fig2_{variant}", "anova.json")],
    output:
        csv=report("results/stats/fig2_rendering_sensitivity.csv", caption="../report/captions/stats_fig2_rendering_sensitivity.rst", category=STATS_CATEGORY, subcategory="Figure 2"),
        json="results/stats/fig2_rendering_sensitivity.json",
    params:
        anova={variant: dict(zip(RENDERINGS, fig2_rendering_files(f"fig2_{variant}", "anova.json"))) for variant in FIG2_RENDERING_SETS},
        models=FIG2_RENDERING_SETS,
    log:
        "logs/fig2_rendering_sensitivity.log",
    benchmark:
        "results/benchmarks/fig2_rendering_sensitivity.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_rendering_sensitivity.py"


rule fig3_rendering_sensitivity:
    input:
        [implicit_file(a, b) for rendering in RENDERINGS for a, b in FIG3_RENDERING_PAIRS[rendering]],
    output:
        "results/stats/fig3_rendering_sensitivity.csv",
    params:
        pairs=FIG3_RENDERING_PAIRS,
        model_info=llm_info(sorted({m for pairs in FIG3_RENDERING_PAIRS.values() for pair in pairs for m in pair})),
        words=IMPLICIT["words"],
    log:
        "logs/fig3_rendering_sensitivity.log",
    benchmark:
        "results/benchmarks/fig3_rendering_sensitivity.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig3_rendering_sensitivity.py"


rule fig3_data:
    input:
        [implicit_file(a, b) for a, b in FIG3_PAIRS],
    output:
        "results/stats/fig3_mwlr.csv",
    params:
        pairs=FIG3_PAIRS,
        model_info={m: {"version": e.get("version", ""), "size_b": e.get("size_b", 0)} for m, e in LLMS.items()},
        words=IMPLICIT["words"],
    log:
        "logs/fig3_data.log",
    benchmark:
        "results/benchmarks/fig3_data.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig3_data.py"


rule table:
    input:
        implicit=lambda wc: implicit_file(TABLES[wc.table]["a"], TABLES[wc.table]["b"]),
    output:
        csv="results/tables/{table}.csv",
        tex="results/tables/{table}.tex",
    params:
        measure="MWLR",
        n=lambda wc: TABLES[wc.table]["n"],
        caption=lambda wc: (
            f"Top and bottom {TABLES[wc.table]['n']} tokens by MWLR, {TABLES[wc.table]['a']} relative to "
            f"{TABLES[wc.table]['b']}, prompt {IMPLICIT['prompt']} (rank 1 = most favoured by {TABLES[wc.table]['a']})."
        ),
        label=lambda wc: f"tab:{wc.table}",
    wildcard_constraints:
        table=one_of(TABLES),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "results/benchmarks/tables/{table}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/tables.py"


rule topk:
    input:
        scores=[f"results/rm_scores/vocab/{m}.parquet" for m in RMS],
        tokens=[f"results/tokens/{m}.parquet" for m in IMPLICIT["topk_vocabulary"]],
        corpus=f"results/corpora/{IMPLICIT['topk_lexicon']}.parquet",
    output:
        per_rm="results/stats/topk_per_rm.csv",
        per_family=report("results/stats/topk_per_family.csv", caption="../report/captions/stats_topk.rst", category=STATS_CATEGORY, subcategory="Top-k"),
        json="results/stats/topk.json",
    params:
        rms=list(RMS),
        families={m: family_label(e["family"]) for m, e in RMS.items()},
        paper_rms=list(published_scores("big2")),
        published_name_of={m: published_rm_name(e["published_scores"]) if e.get("published_scores") else None for m, e in RMS.items()},
        prompt=IMPLICIT["topk_prompt"],
        k=IMPLICIT["topk_k"],
    log:
        "logs/topk.log",
    benchmark:
        "results/benchmarks/topk.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/topk.py"
