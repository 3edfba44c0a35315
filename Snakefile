# rmbias: which human values does a reward model inherit from the LLM it was built on?
# Entry point: config validation, the rule files of each stage, and the target rules.
from snakemake.utils import min_version

min_version("9.0")


report: "report/workflow.rst"


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/corpora.smk"
include: "rules/demo.smk"
include: "rules/scoring.smk"
include: "rules/stats.smk"
include: "rules/implicit.smk"
include: "rules/training.smk"
include: "rules/figures.smk"


rule all:
    input:
        all_targets(),
    default_target: True


rule reanalysis:
    input:
        reanalysis_targets(),


include: "rules/targets.smk"


localrules:
    all,
    reanalysis,
