# Stage 3 (Section 3): base-model log-probabilities (Figure 2), implicit reward models between
# two LLMs (MWLR and the other candidate measures), Figure 3's pairs, Tables 1/A2/A3, top-k.

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
    script:
        "../workflow_scripts/implicit_pair.py"


rule fig2_stats:
    input:
        logprobs=lambda wc: [f"results/logprobs/{m}.parquet" for m in FIG2_VARIANTS[wc.variant]],
        corpus="results/corpora/big2_nouns.parquet",
    output:
        observations="results/stats/fig2_{variant}_observations.parquet",
        anova_csv="results/stats/fig2_{variant}_anova.csv",
        anova_json="results/stats/fig2_{variant}_anova.json",
        welch_csv="results/stats/fig2_{variant}_welch.csv",
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
    script:
        "../workflow_scripts/tables.py"


rule topk:
    input:
        scores=[f"results/rm_scores/vocab/{m}.parquet" for m in RMS],
        tokens=[f"results/tokens/{m}.parquet" for m in IMPLICIT["topk_vocabulary"]],
        corpus="results/corpora/big2_expanded.parquet",
    output:
        per_rm="results/stats/topk_per_rm.csv",
        per_family="results/stats/topk_per_family.csv",
        json="results/stats/topk.json",
    params:
        rms=list(RMS),
        prompt=IMPLICIT["topk_prompt"],
        k=IMPLICIT["topk_k"],
    log:
        "logs/topk.log",
    benchmark:
        "benchmarks/out/topk.tsv"
    script:
        "../workflow_scripts/topk.py"
