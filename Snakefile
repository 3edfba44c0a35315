# rmbias: which human values does a reward model inherit from the LLM it was built on?
# Entry point: config validation (rules/common.smk), the figure registry, the rule files of
# each stage of the paper, the figures, and the target rules (all, reanalysis, aliases).
# docs/architecture.md maps the stages, their rule files, scripts and outputs.
from snakemake.utils import min_version

min_version("9.0")


report: "report/workflow.rst"


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/figure_registry.smk"
include: "rules/corpora.smk"
include: "rules/demo.smk"
include: "rules/gguf.smk"
include: "rules/reanalysis.smk"
include: "rules/scoring.smk"
include: "rules/own_rms.smk"
include: "rules/base_models.smk"
include: "rules/authority_boost.smk"
include: "rules/training.smk"
include: "rules/figures.smk"
include: "rules/targets.smk"


rule all:
    input:
        all_targets(),
    default_target: True


rule reanalysis:
    input:
        reanalysis_targets(),


localrules:
    all,
    reanalysis,
