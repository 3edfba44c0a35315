import pandas as pd
import torch

from rmbias.demo import build_demo_world
from rmbias.io import read_parquet
from rmbias.logs import job_log

# The demo models are so small that intra-op threads only add overhead: on 2 shared cores the
# build takes about 70 s with one thread and over 400 s with two.
torch.set_num_threads(1)

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    corpora = pd.concat([read_parquet(path) for path in snakemake.input.corpora], ignore_index=True)
    built = build_demo_world(corpora, params.prompts, params.out_dir, strength=params.strength, seed=params.seed)
    missing = sorted(set(params.model_ids) - set(built))
    if missing:
        raise ValueError(f"config names demo models the demo world does not build: {', '.join(missing)}")
    log.info("built %d demo models in %s", len(built), params.out_dir)
