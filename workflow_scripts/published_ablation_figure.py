import json

from rmbias.figures import plot_ablations
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    warnings = json.loads(open(snakemake.input.warnings, encoding="utf-8").read())["warnings"]
    plot_ablations(
        read_csv(snakemake.input.ablations),
        snakemake.output.pdf,
        snakemake.output.png,
        include_qwen=snakemake.params.include_qwen,
        caption_note="; ".join(warnings) or None,
    )
