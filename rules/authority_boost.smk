# Appendix F: boost 10 authority words in a base LLM with LoRA SFT, then ask which implicit-
# reward measure recovers them on held-out prompts, with and without the template it was
# trained with, and whether its greedy generations answer the held-out prompts with them.


rule authority_boost_sft:
    input:
        lambda wc: model_files(wc.base),
    output:
        directory("results/authority/{base}/boosted"),
    params:
        base=lambda wc: authority_sft_entry(wc.base),
        prompts=PROMPTS,
        train_keys=AUTHORITY["train_keys"],
        extra_prompts=AUTHORITY["extra_prompts"],
        words=AUTHORITY.get("words", []),
        settings=AUTHORITY["settings"],
        device="auto",
    threads: gpu_job_threads(authority_resources)
    resources:
        **gpu_job_resources(authority_resources),
    log:
        "logs/authority_boost_sft/{base}.log",
    benchmark:
        "results/benchmarks/authority_boost_sft/{base}.tsv"
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
    threads: gpu_job_threads(authority_resources)
    resources:
        **gpu_job_resources(authority_resources),
    log:
        "logs/authority_logprobs/{base}_{variant}_{template}.log",
    benchmark:
        "results/benchmarks/authority_logprobs/{base}_{variant}_{template}.tsv"
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
        recovery=report("results/stats/authority_recovery.csv", caption="../report/captions/stats_authority.rst", category=STATS_CATEGORY, subcategory="Appendix F"),
        words="results/stats/authority_words.csv",
    params:
        labels=[(v, t) for v in ("base", "boosted") for t in ("with", "without")],
        held_out=AUTHORITY_HELD_OUT,
        words=AUTHORITY.get("words", []),
    log:
        "logs/authority_analysis.log",
    benchmark:
        "results/benchmarks/authority_analysis.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/authority_analysis.py"


rule authority_generation:
    input:
        lambda wc: f"results/authority/{AUTHORITY['base']}/boosted",
    output:
        table=report("results/stats/authority_generation.csv", caption="../report/captions/stats_authority_generation.rst", category=STATS_CATEGORY, subcategory="Appendix F"),
        json="results/stats/authority_generation.json",
    params:
        entry=lambda wc: authority_model_entry(AUTHORITY["base"], "boosted", "with"),
        prompts=lambda wc: {key: PROMPTS[key]["text"] for key in AUTHORITY_HELD_OUT},
        words=AUTHORITY.get("words", []),
        max_new_tokens=AUTHORITY["generation_tokens"],
        device="auto",
    threads: gpu_job_threads(authority_resources)
    resources:
        **gpu_job_resources(authority_resources),
    log:
        "logs/authority_generation.log",
    benchmark:
        "results/benchmarks/authority_generation.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/authority_generation.py"
