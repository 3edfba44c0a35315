# The demo world (design §5): tiny models in Hugging Face format with a planted
# agency/communion preference, built locally so that every stage runs on 2 CPU cores. Its
# tokenizers hold the words of every declared lexicon, so each lexicon's terms are tokens.


rule demo_models:
    input:
        corpora=ALL_CORPORA,
    output:
        [directory(f"results/models/{model_id}") for model_id in DEMO_MODEL_IDS],
        world="results/models/demo_world.json",
    params:
        prompts=PROMPTS,
        strength=config["demo"]["strength"],
        seed=config["demo"]["seed"],
        out_dir=lambda wc, output: str(Path(output.world).parent),
        model_ids=DEMO_MODEL_IDS,
    threads: 2
    log:
        "logs/demo_models.log",
    benchmark:
        "results/benchmarks/demo_models.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/build_demo_models.py"
