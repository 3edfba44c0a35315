# Stage 2: GPU scoring, one job per model — token tables, the rendered prompts (CPU: what each
# model sees for every prompt, text and token ids), next-token log-probabilities of
# every vocabulary token (LLMs), exhaustive token search (RMs), and the reproduction check
# against the published scores. Resources come from each model's config entry (design §2).
# The scoring jobs get the prompts' texts only (key -> text): editing a prompt's framing leaves them be.


rule token_table:
    input:
        lambda wc: model_files(wc.model),
    output:
        "results/tokens/{model}.parquet",
    params:
        entry=lambda wc: model_entry(wc.model),
        placeholder_tokens=config["scoring"]["placeholder_tokens"],
    log:
        "logs/token_table/{model}.log",
    benchmark:
        "results/benchmarks/token_table/{model}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/token_table.py"


# Which terms of a lexicon the models of its single-token analyses (SINGLE_TOKEN_MODELS) produce
# as one token; a category with none in some model stops the job with one line
# (rmbias/corpora/lexicon_tokens.py). Editing another model leaves it be.
rule lexicon_tokens:
    input:
        corpus="results/corpora/{dictionary}.parquet",
        tokens=lambda wc: [f"results/tokens/{model}.parquet" for model in SINGLE_TOKEN_MODELS[wc.dictionary]],
    output:
        "results/tokens/lexicons/{dictionary}.parquet",
    params:
        models=lambda wc: SINGLE_TOKEN_MODELS[wc.dictionary],
    wildcard_constraints:
        dictionary=one_of(SINGLE_TOKEN_MODELS),
    log:
        "logs/lexicon_tokens/{dictionary}.log",
    benchmark:
        "results/benchmarks/lexicon_tokens/{dictionary}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/lexicon_tokens.py"


rule rendered_prompts:
    input:
        lambda wc: model_files(wc.model),
    output:
        "results/prompts/{model}.csv",
    params:
        entry=lambda wc: model_entry(wc.model),
        prompts=prompt_texts(PROMPTS),
    log:
        "logs/rendered_prompts/{model}.log",
    benchmark:
        "results/benchmarks/rendered_prompts/{model}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rendered_prompts.py"


rule logprobs:
    input:
        lambda wc: model_files(wc.model),
    output:
        "results/logprobs/{model}.parquet",
    params:
        entry=lambda wc: llm_entry(wc.model),
        prompts=prompt_texts(PROMPTS),
    threads: gpu_job_threads(model_resources)
    resources:
        **gpu_job_resources(model_resources),
    log:
        "logs/logprobs/{model}.log",
    benchmark:
        "results/benchmarks/logprobs/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/logprobs.py"


# One job per RM and scope, or, with scoring.prompt_groups N > 1, one job per prompt group
# (prompt_group = ".groups/<i>-of-<N>", empty for the unsplit job) gathered by rm_scores_gather.
# Groups and the unsplit job share the shard directory, so each resumes from the other's shards.
rule rm_scores:
    input:
        model=lambda wc: model_files(wc.model),
        candidates=scoring_candidates,
    output:
        "results/rm_scores/{scope}/{model}{prompt_group}.parquet",
    params:
        entry=lambda wc: RMS[wc.model],
        prompts=lambda wc: prompt_texts(rm_scores_prompts(wc)),
        method=config["scoring"]["method"],
        shard_size=config["scoring"]["shard_size"],
        shard_dir=lambda wc: f"results/rm_scores/{wc.scope}/{wc.model}.shards",
    wildcard_constraints:
        scope="dictionary/[^/]+|vocab",
        prompt_group=rf"({re.escape(PROMPT_GROUP_SUFFIX)}[0-9]+-of-[0-9]+)?",
    threads: gpu_job_threads(model_resources)
    resources:
        **gpu_job_resources(model_resources),
    log:
        "logs/rm_scores/{scope}/{model}{prompt_group}.log",
    benchmark:
        "results/benchmarks/rm_scores/{scope}/{model}{prompt_group}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/rm_scores.py"


localrules:
    rm_scores_gather,


ruleorder: rm_scores_gather > rm_scores


# The scope's table of an RM split into prompt groups: the groups' prompt columns side by side
# (a cheap read and write, run on the submit host).
rule rm_scores_gather:
    input:
        rm_group_tables,
    output:
        "results/rm_scores/{scope}/{model}.parquet",
    params:
        prompt_keys=lambda wc: list(scope_prompts(wc.scope)),
    wildcard_constraints:
        scope="dictionary/[^/]+|vocab",
        model=one_of(model for model, n_groups in RM_PROMPT_GROUPS.items() if n_groups > 1),
    log:
        "logs/rm_scores_gather/{scope}/{model}.log",
    benchmark:
        "results/benchmarks/rm_scores_gather/{scope}/{model}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/rm_scores_gather.py"


# The reproduction check's second tokenization: scoring.reproduction_sample published responses
# on every prompt under the other BOS mode than the entry's (single vs the published double BOS).
rule reproduction_other_bos:
    input:
        model=lambda wc: model_files(wc.model),
        published=lambda wc: reference(RMS[wc.model]["published_scores"]),
    output:
        "results/rm_scores/reproduction/{model}.other_bos.parquet",
    params:
        entry=lambda wc: RMS[wc.model],
        prompts=prompt_texts(PROMPTS),
        n_responses=config["scoring"]["reproduction_sample"],
        method=config["scoring"]["method"],
        shard_size=config["scoring"]["shard_size"],
        shard_dir=lambda wc: f"results/rm_scores/reproduction/{wc.model}.other_bos.shards",
    threads: gpu_job_threads(model_resources)
    resources:
        **gpu_job_resources(model_resources),
    log:
        "logs/reproduction_other_bos/{model}.log",
    benchmark:
        "results/benchmarks/reproduction_other_bos/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/reproduction_other_bos.py"


rule reproduction_check:
    input:
        ours=lambda wc: [f"results/rm_scores/{scope}/{wc.model}.parquet" for scope in DICTIONARY_SCOPES],
        other_bos="results/rm_scores/reproduction/{model}.other_bos.parquet",
        published=lambda wc: reference(RMS[wc.model]["published_scores"]),
    output:
        "results/stats/reproduction/{model}.csv",
    params:
        bos=lambda wc: RMS[wc.model]["bos"],
    log:
        "logs/reproduction_check/{model}.log",
    benchmark:
        "results/benchmarks/reproduction_check/{model}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/reproduction_check.py"
