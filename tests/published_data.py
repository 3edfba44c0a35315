"""Readers of the published reference data shared by several test modules; the data's location
always comes from the ``reference_data`` fixture (tests/conftest.py), never from a path here."""

import re
from pathlib import Path

import pandas as pd
import yaml

from rmbias.statistics.figure1 import figure1_observations

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMPTS = yaml.safe_load((REPO_ROOT / "config" / "prompts.yaml").read_text())["prompts"]


def published_big2_observations(reference_data: Path) -> pd.DataFrame:
    """Figure 1 observations of the published Big Two scores under ``reference_data`` (the
    mirror's ``data/``): 10 RMs x 54 prompts x 2 categories, through the one path (figure1_observations)."""
    corpus = pd.read_csv(reference_data / "corpora" / "dict_big2_nouns.csv").rename(columns={"Category": "category", "token_decoded": "term"})
    corpus["dictionary"] = "big2_nouns"
    wide = {
        re.sub(r"^big2_rewards_", "", path.stem): pd.read_csv(path)
        for path in sorted((reference_data / "reward_model_scores" / "dict_big2_nouns").glob("*.csv"))
    }
    families = {rm: "Llama" if "llama" in rm.lower() else "Gemma" for rm in wide}
    return figure1_observations(wide, families, corpus, PROMPTS)
