# Stage 2: GPU scoring, one job per model — token tables, next-token log-probabilities of
# every vocabulary token (LLMs), exhaustive token search (RMs), and the reproduction check
# against the published scores. Resources come from each model's config entry (design §2).


def model_entry(model_id):
    return LLMS[model_id] if model_id in LLMS else RMS[model_id]


def model_files(model_id):
    """The model directory when the workflow builds it (demo world), else nothing (hub id)."""
    return [f"results/models/{model_id}"] if model_id in DEMO_MODEL_IDS else []


def model_resource(key, default=None):
    """A resources callable reading ``key`` from the model entry named by the ``model`` wildcard.

    The SLURM executor turns ``gpu`` into ``--gpus``, ``constraint`` into ``-C`` and
    ``slurm_partition`` into ``-p``; a callable returning None adds no flag."""
    return lambda wc: model_entry(wc.model)["resources"].get(key, default)


rule token_table:
    input:
        lambda wc: model_files(wc.model),
    output:
        "results/tokens/{model}.parquet",
    params:
        entry=lambda wc: model_entry(wc.model),
    log:
        "logs/token_table/{model}.log",
    benchmark:
        "benchmarks/out/token_table/{model}.tsv"
    script:
        "../workflow_scripts/token_table.py"


rule logprobs:
    input:
        lambda wc: model_files(wc.model),
    output:
        "results/logprobs/{model}.parquet",
    params:
        entry=lambda wc: LLMS[wc.model],
        prompts=PROMPTS,
    threads: lambda wc: model_entry(wc.model)["resources"]["cpus_per_task"]
    resources:
        gpu=model_resource("gpus", 0),
        mem_mb=model_resource("mem_mb", 4000),
        runtime=model_resource("runtime", 60),
        slurm_partition=model_resource("slurm_partition"),
        constraint=model_resource("constraint"),
    log:
        "logs/logprobs/{model}.log",
    benchmark:
        "benchmarks/out/logprobs/{model}.tsv"
    script:
        "../workflow_scripts/logprobs.py"


rule dictionary_candidates:
    input:
        expand("results/corpora/{dictionary}.parquet", dictionary=config["scoring"]["dictionary_corpora"]),
    output:
        "results/corpora/dictionary_scope.parquet",
    log:
        "logs/dictionary_candidates.log",
    benchmark:
        "benchmarks/out/dictionary_candidates.tsv"
    script:
        "../workflow_scripts/dictionary_candidates.py"


def scoring_candidates(wc):
    if wc.scope == "vocab":
        return f"results/tokens/{wc.model}.parquet"
    return "results/corpora/dictionary_scope.parquet"


def scope_prompts(scope):
    """The prompts scored in ``scope``: all of them, or scoring.vocab_prompts for the vocab scope."""
    keys = config["scoring"]["vocab_prompts"]
    if scope == "dictionary" or keys == "all":
        return PROMPTS
    return {key: PROMPTS[key] for key in keys}


rule rm_scores:
    input:
        model=lambda wc: model_files(wc.model),
        candidates=scoring_candidates,
    output:
        "results/rm_scores/{scope}/{model}.parquet",
    params:
        entry=lambda wc: RMS[wc.model],
        prompts=lambda wc: scope_prompts(wc.scope),
        method=config["scoring"]["method"],
        shard_size=config["scoring"]["shard_size"],
        shard_dir=lambda wc: f"results/rm_scores/{wc.scope}/{wc.model}.shards",
    wildcard_constraints:
        scope="dictionary|vocab",
    threads: lambda wc: model_entry(wc.model)["resources"]["cpus_per_task"]
    resources:
        gpu=model_resource("gpus", 0),
        mem_mb=model_resource("mem_mb", 4000),
        runtime=model_resource("runtime", 60),
        slurm_partition=model_resource("slurm_partition"),
        constraint=model_resource("constraint"),
    log:
        "logs/rm_scores/{scope}/{model}.log",
    benchmark:
        "benchmarks/out/rm_scores/{scope}/{model}.tsv"
    script:
        "../workflow_scripts/rm_scores.py"


rule reproduction_check:
    input:
        ours="results/rm_scores/dictionary/{model}.parquet",
        published=lambda wc: reference(RMS[wc.model]["published_scores"]),
    output:
        "results/stats/reproduction/{model}.csv",
    log:
        "logs/reproduction_check/{model}.log",
    benchmark:
        "benchmarks/out/reproduction_check/{model}.tsv"
    script:
        "../workflow_scripts/reproduction_check.py"
