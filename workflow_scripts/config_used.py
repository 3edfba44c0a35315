import yaml

from rmbias.io import write_text
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:
    resolved = {"config": dict(snakemake.params.config), "prompts": dict(snakemake.params.prompts)}
    write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), snakemake.output[0])
    log.info("validated config (%d top-level keys, defaults filled in) and %d prompts written to %s",
             len(resolved["config"]), len(resolved["prompts"]), snakemake.output[0])
