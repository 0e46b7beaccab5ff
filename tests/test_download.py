"""HTTP download: resume, retries, checksums, atomic rename, local archives, offline messages."""

import socket

import pytest

from drc.data.download import fetch, iter_tar, read_tar_files
from drc.data.real import DEFAULTS
from drc.errors import DRCError
from tests.fixtures_real import cub_split_file, http_server_fixture, sha256, tar_bytes  # noqa: F401

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB, several read blocks


def _fetch(url, dest, sha, **kwargs):
    return fetch(url, dest, sha256=sha, param="data.test.archive", backoff_s=0.0, **kwargs)


def test_download_verified_and_atomic(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    got = _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD))
    assert got.path == tmp_path / "a.bin" and got.sha256 == sha256(PAYLOAD) and got.url == url
    assert got.path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    # a second call reuses the verified file without asking the server
    n_requests = len(http_server.requests)
    assert _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD)).sha256 == sha256(PAYLOAD)
    assert len(http_server.requests) == n_requests


def test_truncated_download_is_resumed(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    http_server.truncate_next["a.bin"] = 300_000
    got = _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD))
    assert got.path.read_bytes() == PAYLOAD
    assert http_server.requests == [("a.bin", None), ("a.bin", "bytes=300000-")]
    assert not (tmp_path / "a.bin.part").exists()


def test_a_server_error_is_retried(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    http_server.fail_next["a.bin"] = 503
    got = _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD))
    assert got.path.read_bytes() == PAYLOAD and http_server.requests == [("a.bin", None), ("a.bin", None)]


def test_partial_file_from_an_earlier_run_is_resumed(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:1000])
    assert _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD)).path.read_bytes() == PAYLOAD
    assert http_server.requests == [("a.bin", "bytes=1000-")]


def test_server_ignoring_range_restarts_cleanly(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    http_server.ignore_range.add("a.bin")
    (tmp_path / "a.bin.part").write_bytes(b"x" * 1000)
    assert _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD)).path.read_bytes() == PAYLOAD


def test_complete_partial_file_gets_416_and_is_used(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    assert _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD)).path.read_bytes() == PAYLOAD


def test_corrupt_download_is_removed_and_reported(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD[:-1] + b"\x00")
    with pytest.raises(DRCError, match=r"sha256 .* expected .*removed.*data\.test\.archive_sha256"):
        _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD))
    assert list(tmp_path.iterdir()) == []


def test_stale_download_is_replaced(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    (tmp_path / "a.bin").write_bytes(b"an older, different file")
    with pytest.warns(UserWarning, match="no longer matches"):
        got = _fetch(url, tmp_path / "a.bin", sha256(PAYLOAD))
    assert got.path.read_bytes() == PAYLOAD


def test_unpinned_checksum_is_recorded_then_enforced(http_server, tmp_path):
    url = http_server.add("a.bin", PAYLOAD)
    with pytest.warns(UserWarning, match=r"no sha256 is pinned.*data\.test\.archive_sha256"):
        got = _fetch(url, tmp_path / "a.bin", None)
    assert (tmp_path / "a.bin.sha256").read_text().strip() == sha256(PAYLOAD) == got.sha256
    (tmp_path / "a.bin").write_bytes(b"tampered")  # the record now catches a changed file
    with pytest.warns(UserWarning) as caught:
        assert _fetch(url, tmp_path / "a.bin", None).path.read_bytes() == PAYLOAD
    assert ["no longer matches" in str(w.message) for w in caught] == [True, False]


def test_local_file_skips_download(http_server, tmp_path):
    local = tmp_path / "mine.bin"
    local.write_bytes(PAYLOAD)
    got = _fetch("http://127.0.0.1:9/never", tmp_path / "dl" / "a.bin", sha256(PAYLOAD), local_file=local)
    assert got.path == local and got.url is None and http_server.requests == []
    with pytest.raises(DRCError, match=r"not the expected file.*data\.test\.archive_sha256 to null"):
        _fetch(None, tmp_path / "a.bin", sha256(b"other"), local_file=local)
    assert local.exists()  # the user's file is never deleted
    with pytest.raises(DRCError, match=r"data\.test\.archive_file = .*missing\.bin does not exist"):
        _fetch(None, tmp_path / "a.bin", None, local_file=tmp_path / "missing.bin")


def test_offline_names_the_param_to_set_without_waiting_on_retries(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits = []
    monkeypatch.setattr("drc.data.download.time.sleep", waits.append)
    with pytest.raises(DRCError, match=r"cannot download .*set data\.test\.archive_file to its path"):
        _fetch(f"http://127.0.0.1:{port}/a.bin", tmp_path / "a.bin", None, retries=4)
    assert list(tmp_path.iterdir()) == [] and waits == []  # refused before any byte: no back-off
    with pytest.raises(DRCError, match=r"cannot download .*set data\.test\.folder to its path"):
        _fetch(f"http://127.0.0.1:{port}/a.bin", tmp_path / "a.bin", None, local_param="data.test.folder")


def test_http_error_and_missing_url(http_server, tmp_path):
    with pytest.raises(DRCError, match=r"HTTP 404.*data\.test\.archive_url"):
        _fetch(http_server.url("nope.bin"), tmp_path / "a.bin", None)
    with pytest.raises(DRCError, match=r"no URL .*data\.test\.archive_url, or set data\.test\.archive_file"):
        _fetch(None, tmp_path / "a.bin", None)
    with pytest.raises(DRCError, match=r"HTTP 404.*set data\.test\.folder to its path"):
        _fetch(http_server.url("nope.bin"), tmp_path / "a.bin", None, local_param="data.test.folder")


def test_cub_split_file_matches_the_pinned_checksum(http_server, tmp_path):
    """The test copy of ReDO's split file is byte-identical to the published one."""
    data = cub_split_file()
    assert sha256(data) == DEFAULTS["birds"]["split_sha256"]
    lines = data.decode().splitlines()
    assert len(lines) == 11788 and [sum(line.endswith(f" {k}") for line in lines) for k in "012"] == [
        10000,
        788,
        1000,
    ]
    url = http_server.add("split.txt", data)
    assert _fetch(url, tmp_path / "split.txt", DEFAULTS["birds"]["split_sha256"]).path.read_bytes() == data


def test_tar_reading(tmp_path):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(tar_bytes({"d/x.txt": b"x", "d/y.txt": b"y", "d/z.bin": b"z"}, gz=True))
    assert dict(iter_tar(archive, lambda name: name.endswith(".txt"))) == {"d/x.txt": b"x", "d/y.txt": b"y"}
    assert read_tar_files(archive, ["d/z.bin"]) == {"d/z.bin": b"z"}
    with pytest.raises(DRCError, match="lacks d/missing"):
        read_tar_files(archive, ["d/missing"])
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(DRCError, match="not a readable archive"):
        list(iter_tar(archive, lambda name: True))
