from rmbias.basemodels import topk_analysis
from rmbias.io import write_csv, write_json
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    params = snakemake.params
    per_rm, per_family = topk_analysis(
        dict(zip(params.rms, snakemake.input.scores)), snakemake.input.tokens, snakemake.input.corpus, params.prompt, params.k
    )
    write_csv(per_rm, snakemake.output.per_rm)
    write_csv(per_family, snakemake.output.per_family)
    write_json(
        {"analysis": "topk", "prompt": params.prompt, "k": params.k, "per_rm": per_rm.to_dict(orient="records"),
         "per_family": per_family.to_dict(orient="records")},
        snakemake.output.json,
    )
