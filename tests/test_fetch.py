import hashlib

import pytest

from rmbias.fetch import fetch_reference_file
from rmbias.io import InputError

REL = "data/corpora/words.csv"


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    (root / "data" / "corpora").mkdir(parents=True)
    (root / REL).write_bytes(b"term\nlove\n")
    return root


def test_mirror_copy_verified(mirror, tmp_path):
    dest = tmp_path / "out" / REL
    sha = hashlib.sha256(b"term\nlove\n").hexdigest()
    origin = fetch_reference_file(REL, dest, sha, "https://example.invalid/base", mirror=mirror)
    assert dest.read_bytes() == b"term\nlove\n"
    assert origin == str(mirror / REL)


def test_checksum_mismatch_names_file_and_leaves_nothing(mirror, tmp_path):
    dest = tmp_path / "out" / REL
    with pytest.raises(InputError, match=r"data/corpora/words.csv: sha256 mismatch .*reference_mirror"):
        fetch_reference_file(REL, dest, "0" * 64, "https://example.invalid/base", mirror=mirror)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_missing_mirror_file(tmp_path):
    dest = tmp_path / "out" / REL
    with pytest.raises(InputError, match=r"words.csv: not found in reference_mirror"):
        fetch_reference_file(REL, dest, "0" * 64, "https://example.invalid/base", mirror=tmp_path / "empty")
    assert not dest.exists()


def test_unreachable_url_says_how_to_use_the_mirror(tmp_path):
    dest = tmp_path / "out" / REL
    with pytest.raises(InputError, match=r"words.csv: cannot download http://127.0.0.1:9/base/data/corpora/words.csv .*reference_mirror"):
        fetch_reference_file(REL, dest, "0" * 64, "http://127.0.0.1:9/base", timeout_s=5)
    assert not dest.exists()
