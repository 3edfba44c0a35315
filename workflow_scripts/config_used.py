import yaml

from rmbias.io import write_text
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    resolved = {"config": dict(snakemake.params.config), "prompts": dict(snakemake.params.prompts)}
    write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), snakemake.output[0])
