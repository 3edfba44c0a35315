"""The reanalysis reads published score files whose every response is scored on every prompt."""

from __future__ import annotations

import pytest

from rmbias.io import InputError
from rmbias.statistics.figure1 import read_published_scores


def test_empty_score_cell_stops_the_reanalysis_naming_file_and_row(tmp_path):
    """An empty cell would be a NaN rank that n_ranked still counts."""
    path = tmp_path / "big2_rewards_org_RM-Llama.csv"
    path.write_text("response,best_ever_one,worst_ever_one\nlove,1.5,-2\npower,0.5,\ntable,0.1,0.2\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_published_scores(path, ["best_ever_one", "worst_ever_one"])
    assert str(err.value) == (
        f"{path}: line 3 (response 'power') has no finite score for prompt worst_ever_one (1 such cell(s)); "
        "the reanalysis needs every score"
    )
    table = read_published_scores(path, ["best_ever_one"])
    assert table["response"].tolist() == ["love", "power", "table"] and table["best_ever_one"].tolist() == [1.5, 0.5, 0.1]
