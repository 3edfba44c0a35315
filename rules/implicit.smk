# Stage 3 (Section 3): base-model log-probabilities (Figure 2), implicit reward models between
# two LLMs (MWLR and the other candidate measures), Figure 3's pairs, Tables 1/A2/A3, top-k.

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
        "benchmarks/out/implicit_pair/{prompt}/{a}__{b}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/implicit_pair.py"


rule fig2_stats:
    input:
        logprobs=lambda wc: [f"results/logprobs/{m}.parquet" for m in FIG2_VARIANTS[wc.variant]],
        corpus="results/corpora/big2_nouns.parquet",
    output:
        observations="results/stats/fig2_{variant}_observations.parquet",
        anova_csv=report("results/stats/fig2_{variant}_anova.csv", caption="../report/captions/stats_fig2_anova.rst", category="Statistics", subcategory="Figure 2"),
        anova_json="results/stats/fig2_{variant}_anova.json",
        welch_csv=report("results/stats/fig2_{variant}_welch.csv", caption="../report/captions/stats_fig2_welch.rst", category="Statistics", subcategory="Figure 2"),
        welch_json="results/stats/fig2_{variant}_welch.json",
    params:
        models=lambda wc: FIG2_VARIANTS[wc.variant],
        prompts=PROMPTS,
    wildcard_constraints:
        variant="instruct|pretrained",
    log:
        "logs/fig2_stats/{variant}.log",
    benchmark:
        "benchmarks/out/fig2_stats/{variant}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fig2_stats.py"


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
        "benchmarks/out/fig3_data.tsv"
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
        table="|".join(TABLES) or "no-tables",
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/out/tables/{table}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/tables.py"


rule topk:
    input:
        scores=[f"results/rm_scores/vocab/{m}.parquet" for m in RMS],
        tokens=[f"results/tokens/{m}.parquet" for m in IMPLICIT["topk_vocabulary"]],
        corpus="results/corpora/big2_expanded.parquet",
    output:
        per_rm="results/stats/topk_per_rm.csv",
        per_family=report("results/stats/topk_per_family.csv", caption="../report/captions/stats_topk.rst", category="Statistics", subcategory="Top-k"),
        json="results/stats/topk.json",
    params:
        rms=list(RMS),
        prompt=IMPLICIT["topk_prompt"],
        k=IMPLICIT["topk_k"],
    log:
        "logs/topk.log",
    benchmark:
        "benchmarks/out/topk.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/topk.py"




rule authority_boost_sft:
    input:
        lambda wc: model_files(wc.base),
    output:
        directory("results/authority/{base}/boosted"),
    params:
        base=lambda wc: LLMS[wc.base],
        prompts=PROMPTS,
        train_keys=AUTHORITY["train_keys"],
        extra_prompts=AUTHORITY["extra_prompts"],
        words=AUTHORITY.get("words", []),
        settings=AUTHORITY["settings"],
        device="auto",
    threads: AUTHORITY["resources"]["cpus_per_task"]
    resources:
        gpu=lambda wc: AUTHORITY["resources"].get("gpus", 0),
        mem_mb=lambda wc: AUTHORITY["resources"].get("mem_mb", 4000),
        runtime=lambda wc: AUTHORITY["resources"].get("runtime", 60),
        slurm_partition=lambda wc: AUTHORITY["resources"].get("slurm_partition"),
        constraint=lambda wc: AUTHORITY["resources"].get("constraint"),
    log:
        "logs/authority_boost_sft/{base}.log",
    benchmark:
        "benchmarks/out/authority_boost_sft/{base}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/authority_boost_sft.py"


rule authority_logprobs:
    input:
        lambda wc: [f"results/authority/{wc.base}/boosted"] if wc.variant == "boosted" else model_files(wc.base),
    output:
        "results/authority/{base}/logprobs_{variant}_{template}.parquet",
    params:
        entry=authority_entry,
        prompts={key: PROMPTS[key] for key in AUTHORITY_HELD_OUT},
    wildcard_constraints:
        variant="base|boosted",
        template="with|without",
    threads: AUTHORITY["resources"]["cpus_per_task"]
    resources:
        gpu=lambda wc: AUTHORITY["resources"].get("gpus", 0),
        mem_mb=lambda wc: AUTHORITY["resources"].get("mem_mb", 4000),
        runtime=lambda wc: AUTHORITY["resources"].get("runtime", 60),
    log:
        "logs/authority_logprobs/{base}_{variant}_{template}.log",
    benchmark:
        "benchmarks/out/authority_logprobs/{base}_{variant}_{template}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/logprobs.py"


rule authority_analysis:
    input:
        logprobs=lambda wc: [
            f"results/authority/{AUTHORITY['base']}/logprobs_{v}_{t}.parquet" for v in ("base", "boosted") for t in ("with", "without")
        ],
        corpus="results/corpora/mfd2.parquet",
    output:
        recovery=report("results/stats/authority_recovery.csv", caption="../report/captions/stats_authority.rst", category="Statistics", subcategory="Appendix F"),
        words="results/stats/authority_words.csv",
    params:
        labels=[(v, t) for v in ("base", "boosted") for t in ("with", "without")],
        held_out=AUTHORITY_HELD_OUT,
        words=AUTHORITY.get("words", []),
    log:
        "logs/authority_analysis.log",
    benchmark:
        "benchmarks/out/authority_analysis.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/authority_analysis.py"
