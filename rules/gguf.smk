# GGUF checkpoints as a model source: a model entry with a `gguf` key (where the file comes
# from, its sha256) is converted once into a Hugging Face directory results/models/<id>, which
# model_files() makes an input of every job of that model; those jobs load it like any checkpoint.
# params.entry (conversion_entry, rules/common.smk) holds only the keys the conversion reads.


rule convert_gguf:
    output:
        directory("results/models/{model}"),
    params:
        entry=conversion_entry,
        base_dir=str(REPO_ROOT),
    wildcard_constraints:
        model=one_of(GGUF_MODEL_IDS),
    threads: 1
    resources:
        mem_mb=8000,
    log:
        "logs/convert_gguf/{model}.log",
    benchmark:
        "results/benchmarks/convert_gguf/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/convert_gguf.py"
