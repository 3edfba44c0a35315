import pandas as pd
import torch

from rmbias.demo import build_demo_world
from rmbias.io import read_parquet
from rmbias.logs import job_log

# The job's threads only (Snakemake schedules nothing else on them): measured on a 2-core
# machine, the default world builds in 168 s with two intra-op threads and 220 s with one.
torch.set_num_threads(snakemake.threads)

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    corpora = pd.concat([read_parquet(path) for path in snakemake.input.corpora], ignore_index=True)
    built = build_demo_world(corpora, params.prompts, params.out_dir, strength=params.strength, seed=params.seed)
    missing = sorted(set(params.model_ids) - set(built))
    if missing:
        raise ValueError(f"config names demo models the demo world does not build: {', '.join(missing)}")
    log.info("built %d demo models in %s", len(built), params.out_dir)
