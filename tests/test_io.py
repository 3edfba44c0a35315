import pytest

from rmbias.io import InputError, read_parquet, read_wide_scores, write_parquet


def test_wide_scores_keep_responses_and_check_columns(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("response,greatest_ever_one,worst_ever_one\nlove,1.5,-2\n,0.5,\n", encoding="utf-8")
    table = read_wide_scores(path, ["worst_ever_one"])
    assert list(table.columns) == ["response", "worst_ever_one"]
    assert table["response"].tolist() == ["love", ""]
    assert table["worst_ever_one"].iloc[0] == -2.0 and table["worst_ever_one"].isna().iloc[1]
    with pytest.raises(InputError, match=r"scores.csv: missing column\(s\) best_ever_one"):
        read_wide_scores(path, ["best_ever_one"])
    path.write_text("response,greatest_ever_one\nlove,high\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"scores.csv: non-numeric score in column greatest_ever_one"):
        read_wide_scores(path)


def test_truncated_parquet_is_a_clear_error(tmp_path):
    import pandas as pd

    path = tmp_path / "table.parquet"
    write_parquet(pd.DataFrame({"a": range(100)}), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match=r"table.parquet: not a readable parquet file"):
        read_parquet(path)
    assert list(tmp_path.iterdir()) == [path]
