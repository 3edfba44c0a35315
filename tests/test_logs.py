"""Per-job logs: every job's log says when it started and whether it finished; secrets never reach it."""

import logging

import pytest

from rmbias.logs import job_log


def test_job_log_records_start_finish_and_redacts_the_token(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue")
    path = tmp_path / "logs" / "job.log"
    with job_log(path) as log:
        log.info("using token hf_secretvalue")
        print("printed line")
    text = path.read_text()
    assert "job started" in text and "job finished in" in text
    assert "printed line" in text and "[REDACTED]" in text and "hf_secretvalue" not in text


def test_failed_job_logs_the_error_and_no_finish_line(tmp_path):
    path = tmp_path / "job.log"
    with pytest.raises(ValueError):
        with job_log(path):
            logging.getLogger("rmbias.x").info("working")
            raise ValueError("bad input file x.csv")
    text = path.read_text()
    assert "ValueError: bad input file x.csv" in text and "job finished" not in text
