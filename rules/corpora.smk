# Stage 1: published reference data (URL + sha256, or a local mirror) and every declared lexicon
# (the built-ins of config/lexicons.yaml and the config's `lexicons`) unrolled into a long table.


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


# The lexicon's declaration is a param: editing its format keys restales its corpus and what reads
# it; its label (a name for figures and captions) is left out.
rule corpus:
    input:
        lambda wc: lexicon_file(wc.dictionary),
    output:
        "results/corpora/{dictionary}.parquet",
    params:
        lexicon=lambda wc: {key: value for key, value in LEXICONS[wc.dictionary].items() if key != "label"},
    log:
        "logs/corpus/{dictionary}.log",
    benchmark:
        "results/benchmarks/corpus/{dictionary}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/corpus.py"
