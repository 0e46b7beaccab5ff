"""Fetching the raw archives of the real datasets, and reading members out of them.

``fetch`` downloads over HTTP(S) into ``<dest>.part`` (resumed with Range requests across retries and
across runs), verifies the sha256, then renames onto ``dest``: a file at ``dest`` has always passed
verification. A corrupt download is removed and reported, never used. Where no checksum is pinned
(param null) the computed sha256 is recorded in ``<dest>.sha256`` on first download, later runs
verify against that record, and a warning says how to pin it.

A user-provided local file (the ``<key>_file`` param) skips the download; it is verified when a
checksum is pinned but never deleted.
"""

from __future__ import annotations

import http.client
import os
import socket
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from drc.atomic import write_text
from drc.data.prepared import sha256_file
from drc.errors import DRCError

USER_AGENT = "drc-data/0.1 (python urllib)"
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
# No server answers, or the name does not resolve: what an offline machine sees, not worth waiting on.
_UNREACHABLE = (ConnectionRefusedError, socket.gaierror)


@dataclass(frozen=True)
class Fetched:
    """A verified local file and where it came from (``url`` None for a user-provided file)."""

    path: Path
    sha256: str
    url: str | None


def fetch_resource(cfg: Mapping[str, Any], *, dataset: str, key: str, filename: str, download_dir: Path) -> Fetched:
    """Fetch the file described by the params ``<key>_url``, ``<key>_sha256`` and ``<key>_file``."""
    return fetch(
        cfg[f"{key}_url"],
        Path(download_dir) / filename,
        sha256=cfg[f"{key}_sha256"],
        local_file=cfg[f"{key}_file"],
        param=f"data.{dataset}.{key}",
    )


def fetch_resources(
    cfg: Mapping[str, Any], *, dataset: str, filenames: Mapping[str, str], download_dir: Path
) -> dict[str, Fetched]:
    """``fetch_resource`` for each key of ``filenames`` (key -> the file's name in ``download_dir``)."""
    return {
        key: fetch_resource(cfg, dataset=dataset, key=key, filename=name, download_dir=download_dir)
        for key, name in filenames.items()
    }


def fetch(
    url: str | None,
    dest: Path,
    *,
    sha256: str | None,
    local_file: str | Path | None = None,
    param: str,
    local_param: str | None = None,
    retries: int = 4,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
) -> Fetched:
    """Return a verified copy of ``url``: ``local_file`` if set, else ``dest`` (downloaded if needed).

    ``param`` is the params prefix used in messages (``data.birds.images`` names ``..._url``,
    ``..._sha256`` and ``..._file``); ``local_param`` names the setting for a local copy where it is not
    ``<param>_file``. ``retries`` counts consecutive attempts that made no progress.
    """
    sha256 = sha256.lower() if sha256 else None
    local_param = local_param or f"{param}_file"
    if local_file is not None:
        path = Path(local_file).expanduser()
        return Fetched(path, _verify_local(path, sha256, param), None)
    dest = Path(dest)
    if dest.is_file():
        digest = _verify_existing(dest, sha256)
        if digest is not None:
            return Fetched(dest, digest, url)
    if not url:
        raise DRCError(f"no URL for {dest.name}: set {param}_url, or set {local_param} to a local copy")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _download(
        url,
        part,
        param=param,
        local_param=local_param,
        dest=dest,
        retries=retries,
        backoff_s=backoff_s,
        timeout_s=timeout_s,
    )
    digest = sha256_file(part)
    if sha256 is None:
        write_text(_record_path(dest), digest + "\n", replace=True)
        warnings.warn(
            f"no sha256 is pinned for {url}; recorded {digest} in {_record_path(dest)} (set {param}_sha256 to pin it)",
            stacklevel=2,
        )
    elif digest != sha256:
        part.unlink()
        raise DRCError(
            f"download of {url} has sha256 {digest}, expected {sha256}; the file was removed: run again, "
            f"or if the server's file changed on purpose, check it and update {param}_sha256"
        )
    os.replace(part, dest)
    return Fetched(dest, digest, url)


def _record_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _verify_local(path: Path, sha256: str | None, param: str) -> str:
    if not path.is_file():
        raise DRCError(f"{param}_file = {path} does not exist; fix the path, or set it to null to download")
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256:
        raise DRCError(
            f"{path} has sha256 {digest}, expected {sha256}: it is not the expected file; replace it, "
            f"or set {param}_sha256 to null to accept it"
        )
    return digest


def _verify_existing(dest: Path, sha256: str | None) -> str | None:
    """The sha256 of a previous download if it still matches its pinned or recorded checksum, else
    None (and the file is removed)."""
    record = _record_path(dest)
    expected = sha256 or (record.read_text().strip() if record.is_file() else None)
    digest = sha256_file(dest)
    if expected is None:
        write_text(record, digest + "\n", replace=True)
        return digest
    if digest == expected:
        return digest
    warnings.warn(f"{dest} no longer matches sha256 {expected}; removed, downloading it again", stacklevel=3)
    dest.unlink()
    return None


def _download(
    url: str,
    part: Path,
    *,
    param: str,
    local_param: str,
    dest: Path,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> None:
    """Fill ``part`` with the whole body of ``url``, resuming after interruptions. A host that cannot be
    reached before any byte has arrived fails at once rather than after the retries' back-off."""
    failures, received = 0, False
    while True:
        before = part.stat().st_size if part.exists() else 0
        unreachable = False
        try:
            if _download_once(url, part, timeout_s):
                return
            problem = "the connection closed early"
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise DRCError(
                    f"{url} answered HTTP {exc.code} {exc.reason}; set {param}_url to a working mirror, "
                    f"or download the file yourself and set {local_param} to its path"
                ) from exc
            problem = f"HTTP {exc.code}"
        except _TRANSIENT as exc:
            problem = str(getattr(exc, "reason", exc))
            unreachable = isinstance(getattr(exc, "reason", exc), _UNREACHABLE) and not received
        after = part.stat().st_size if part.exists() else 0
        received = received or after > before
        failures = 0 if after > before else failures + 1
        if failures > retries or unreachable:
            raise DRCError(
                f"cannot download {url} ({problem}); if this machine is offline, fetch the file elsewhere "
                f"and set {local_param} to its path (or copy it to {dest})"
            )
        if failures:
            time.sleep(backoff_s * 2 ** (failures - 1))


def _download_once(url: str, part: Path, timeout_s: float) -> bool:
    """One request; appends to ``part``. True when the body is complete."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:
            raise
        # Range not satisfiable: the partial file is already complete, or longer than the remote file.
        _, total = _content_range(exc.headers.get("Content-Range"))
        if total == offset:
            return True
        part.unlink()
        return False
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != offset:  # not the continuation of what we have: start again
                part.unlink()
                return False
        else:  # 200: the server ignored the Range header, start again
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        mode = "ab" if offset else "wb"
        with (
            open(part, mode) as out,
            tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name[:-5]) as bar,
        ):
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size > total:
        part.unlink()
        return False
    return total is None or size == total


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes */1000`` -> (None, 1000); unknown parts None."""
    span, _, total = (value or "").removeprefix("bytes ").partition("/")
    start = span.split("-")[0].strip()
    return (int(start) if start.isdigit() else None, int(total) if total.strip().isdigit() else None)


def iter_tar(archive: Path, select: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Stream the regular-file members whose names pass ``select`` (any compression, one pass)."""
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                if member.isfile() and select(member.name):
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    yield member.name, handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DRCError(f"{archive} is not a readable archive ({exc}); delete it and run again") from exc


def read_tar_files(archive: Path, names: Iterable[str]) -> dict[str, bytes]:
    """The named members of ``archive``; stops reading once all are found."""
    wanted = set(names)
    found: dict[str, bytes] = {}
    for name, data in iter_tar(archive, wanted.__contains__):
        found[name] = data
        if len(found) == len(wanted):
            return found
    missing = sorted(wanted - found.keys())
    raise DRCError(f"{archive} lacks {', '.join(missing)}: it is not the expected archive; replace it")
