# The config record (rule config_used) and the short aliases of the figures and tables:
# `snakemake fig3` builds results/figures/fig3_lollipop.pdf (and .png) and only its ancestors.
# Figures, their aliases and when they are enabled come from the registry FIGURES
# (rules/figure_registry.smk). `rule all` and `rule reanalysis` are in the Snakefile, because
# Snakemake keeps a default target only when it is defined there.


rule config_used:
    output:
        report("results/config_used.yaml", caption="../report/captions/config_used.rst", category="Configuration"),
    params:
        config=config,
        prompts=PROMPTS,
    log:
        "logs/config_used.log",
    benchmark:
        "results/benchmarks/config_used.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/config_used.py"


ALIASES = {FIGURES[name]["alias"]: figure_files(name) for name in enabled_figures()}
ALIASES.update({name: [f"results/tables/{name}.tex", f"results/tables/{name}.csv"] for name in TABLES})
if H1_RUNS:
    ALIASES["tableH1"] = [f"results/tables/tableH1_{run}.{ext}" for run in H1_RUNS for ext in ("tex", "csv")]

for alias, files in ALIASES.items():

    rule:
        name:
            alias
        input:
            files,
        default_target: False
