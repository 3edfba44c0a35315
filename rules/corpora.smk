# Stage 1: published reference data (URL + sha256, or a local mirror) and the dictionaries
# unrolled into long tables.


localrules:
    fetch_reference,


# Where a file comes from (URL or reference_mirror) is not a param: the sha256 is what
# identifies it, so switching to a mirror does not make finished outputs stale.
rule fetch_reference:
    output:
        f"{REFERENCE_DIR}/{{path}}",
    params:
        sha256=lambda wc: MANIFEST["files"][wc.path]["sha256"],
        base_url=MANIFEST["base_url"],
    wildcard_constraints:
        path="|".join(re.escape(p) for p in MANIFEST["files"]),
    log:
        "logs/fetch_reference/{path}.log",
    benchmark:
        "results/benchmarks/fetch_reference/{path}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/fetch_reference.py"


rule corpus:
    input:
        lambda wc: reference(DICTIONARY_FILES[wc.dictionary]),
    output:
        "results/corpora/{dictionary}.parquet",
    log:
        "logs/corpus/{dictionary}.log",
    benchmark:
        "results/benchmarks/corpus/{dictionary}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/corpus.py"
