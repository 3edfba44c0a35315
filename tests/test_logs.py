"""Per-job logs: every job's log says when it started and whether it finished; secrets never reach it;
bad input ends a job with one line; training progress lines."""

import logging
import subprocess
import sys

import pytest

from rmbias.io import InputError
from rmbias.logs import TrainingProgress, job_log, progress_line


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


def test_input_error_ends_the_job_with_one_line_and_exit_status_1(tmp_path):
    path = tmp_path / "job.log"

    def read_missing_file():
        raise InputError("data/x.csv: file does not exist")

    with pytest.raises(SystemExit) as exit_info:
        with job_log(path):
            read_missing_file()
    assert exit_info.value.code == "rmbias: data/x.csv: file does not exist"  # Python prints it, exits with 1
    lines = path.read_text().splitlines()
    assert "job started" in lines[0] and len(lines) == 2
    assert lines[1].endswith("ERROR rmbias: InputError: data/x.csv: file does not exist")


def test_input_error_in_a_job_process_prints_one_line_other_errors_their_traceback(tmp_path):
    script = ("import sys\nfrom rmbias.io import InputError\nfrom rmbias.logs import job_log\n"
              "with job_log(sys.argv[1]):\n    raise (InputError if sys.argv[2] == 'input' else RuntimeError)('bad x.csv')\n")
    bad_input = subprocess.run([sys.executable, "-c", script, str(tmp_path / "a.log"), "input"], capture_output=True, text=True)
    assert bad_input.returncode == 1
    assert bad_input.stderr == "rmbias: bad x.csv\n"
    assert [line.split(": ", 1)[1] for line in (tmp_path / "a.log").read_text().splitlines()[1:]] == ["InputError: bad x.csv"]
    other = subprocess.run([sys.executable, "-c", script, str(tmp_path / "b.log"), "other"], capture_output=True, text=True)
    assert other.returncode == 1
    assert "Traceback" in other.stderr and "RuntimeError: bad x.csv" in other.stderr
    assert "Traceback" in (tmp_path / "b.log").read_text()


def test_training_progress_logs_every_n_steps_and_the_last_over_the_steps_since_the_previous_line(caplog):
    progress = TrainingProgress(logging.getLogger("rmbias.test"), total_steps=7, every=3)
    with caplog.at_level("INFO", logger="rmbias.test"):
        for step in range(1, 8):
            progress.step(step, loss=float(step), examples=4 if step < 7 else 2, seconds=0.5, learning_rate=step * 1e-4)
    assert caplog.messages == [
        "step 3/7 loss 2.0000 lr 3.0e-04 8.0 examples/s",
        "step 6/7 loss 5.0000 lr 6.0e-04 8.0 examples/s",
        "step 7/7 loss 7.0000 lr 7.0e-04 4.0 examples/s",
    ]
    assert progress_line(40, 200, 0.41234, 1.8e-4, 12.34) == "step 40/200 loss 0.4123 lr 1.8e-04 12.3 examples/s"
