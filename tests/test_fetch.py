import functools
import hashlib
import http.server
import threading

import pytest
import yaml
from workflow_helpers import fill_reference_cache

from rmbias.corpora.reference import fetch_reference_file
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


@pytest.fixture
def served_manifest(mirror, tmp_path):
    """A one-file manifest whose base URL is a local HTTP server serving ``mirror``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    manifest = tmp_path / "reference.yaml"
    sha = hashlib.sha256(b"term\nlove\n").hexdigest()
    manifest.write_text(yaml.safe_dump({
        "base_url": f"http://127.0.0.1:{server.server_address[1]}",
        "files": {REL: {"bytes": 10, "sha256": sha}},
    }))
    yield manifest, server
    server.shutdown()
    server.server_close()


def test_reference_cache_is_filled_by_url_once_and_reused(served_manifest, tmp_path):
    manifest, server = served_manifest
    cache = tmp_path / "cache"
    assert fill_reference_cache(cache, manifest) == cache
    assert (cache / REL).read_bytes() == b"term\nlove\n"
    server.shutdown()
    server.server_close()
    assert fill_reference_cache(cache, manifest) == cache  # served from the cache, no download


def test_corrupt_cache_file_is_fetched_again_or_named(served_manifest, tmp_path):
    manifest, server = served_manifest
    cache = tmp_path / "cache"
    (cache / REL).parent.mkdir(parents=True)
    (cache / REL).write_bytes(b"tampered\n")
    fill_reference_cache(cache, manifest)
    assert (cache / REL).read_bytes() == b"term\nlove\n"
    (cache / REL).write_bytes(b"tampered\n")
    server.shutdown()
    server.server_close()
    with pytest.raises(InputError, match=r"^data/corpora/words.csv: cannot download http://127.0.0.1:\d+/data/corpora/words.csv"):
        fill_reference_cache(cache, manifest)
