#!/usr/bin/env python3
"""Download the declared Stable Diffusion files into models/, verified by sha256, before the web UI starts.

Run as an init container of the Stable Diffusion pod (standard library only, so a plain python image
runs it from a ConfigMap). For each declared file: skip it when it is present with the declared
sha256; else download it to ``.<name>.part`` in the same folder, hashing while it streams, and move
it into place with os.replace only when the hash matches. A partial or corrupt file therefore never
appears under its final name. Exits non-zero naming every file that failed, with both hashes on a
mismatch.

The declared files come as JSON (``--checkpoints`` or the SD_CHECKPOINTS variable): a list of
{"url": ..., "folder": "Stable-diffusion" | "Lora" | "VAE", "file_name": ..., "sha256": ...}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def log(message: str) -> None:
    print(f"sd-fetch: {message}", flush=True)


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def redact(url: str) -> str:
    """The URL without credentials or query string (download tokens travel there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class Entry:
    """One declared file, checked again here: the JSON may have been edited by hand."""

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, dict):
            raise ValueError(f"each entry must be an object, got {raw!r}")
        self.url = str(raw.get("url", ""))
        self.folder = str(raw.get("folder", ""))
        self.file_name = str(raw.get("file_name", ""))
        self.sha256 = str(raw.get("sha256", "")).lower()
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"{self.url!r} is not an http(s) URL")
        for value in (self.folder, self.file_name):
            if not _SAFE_NAME.match(value):
                raise ValueError(f"{value!r} is not a plain file or folder name")
        if not _SHA256.match(self.sha256):
            raise ValueError(f"{raw.get('sha256')!r} is not a sha256 (64 hex characters)")

    @property
    def label(self) -> str:
        return f"{self.folder}/{self.file_name}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Progress:
    """One line per interval (and the last one) so a multi-GB download does not flood the log."""

    def __init__(self, label: str, total: int | None, interval: float, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.interval, self.clock = label, total, interval, clock
        self.last_logged = clock()

    def update(self, done: int) -> None:
        now = self.clock()
        if now - self.last_logged < self.interval:
            return
        self.last_logged = now
        if self.total:
            log(f"{self.label}: {min(100, done * 100 // self.total)}% ({human_bytes(done)}/{human_bytes(self.total)})")
        else:
            log(f"{self.label}: {human_bytes(done)}")


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; best effort, as some file systems refuse fsync on a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fetch(entry: Entry, models_dir: Path, timeout: float, progress_seconds: float) -> str | None:
    """Make ``entry`` present with its sha256; None on success, else what went wrong."""
    folder = models_dir / entry.folder
    final = folder / entry.file_name
    part = folder / f".{entry.file_name}.part"
    folder.mkdir(parents=True, exist_ok=True)
    if final.is_file():
        actual = sha256_of(final)
        if actual == entry.sha256:
            log(f"{entry.label}: present, sha256 ok, skipped")
            return None
        log(f"{entry.label}: present but its sha256 is {actual}, not the declared {entry.sha256}: downloading again")
    source = redact(entry.url)
    log(f"{entry.label}: downloading from {source}")
    request = urllib.request.Request(entry.url, headers={"User-Agent": "homelab-ai-sd-fetch/1"})
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, part.open("wb") as out:
            length = response.headers.get("Content-Length")
            progress = Progress(entry.label, int(length) if length and length.isdigit() else None, progress_seconds)
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                progress.update(done)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != entry.sha256:
            return (
                f"sha256 mismatch for {entry.label}: declared {entry.sha256}, downloaded {actual} "
                f"({human_bytes(done)} from {source}); the download was discarded"
            )
        os.replace(part, final)
        _fsync_dir(folder)
    except urllib.error.HTTPError as exc:
        return f"download of {entry.label} from {source} failed: HTTP {exc.code} {exc.reason}"
    except OSError as exc:  # refused, reset, timeout, disk full
        return f"download of {entry.label} from {source} failed: {exc}"
    finally:
        part.unlink(missing_ok=True)
    log(f"{entry.label}: downloaded {human_bytes(done)}, sha256 ok")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", required=True, type=Path, help="the web UI's models/ folder")
    parser.add_argument("--checkpoints", help="JSON list of files (default: the SD_CHECKPOINTS variable)")
    parser.add_argument(
        "--timeout-seconds", type=float, default=300, help="socket timeout of one read (default: %(default)g s)"
    )
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=15,
        help="at most one progress line per interval (default: %(default)g s)",
    )
    args = parser.parse_args(argv)
    text = args.checkpoints if args.checkpoints is not None else os.environ.get("SD_CHECKPOINTS", "[]")
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("the checkpoint list must be a JSON list")
        entries = [Entry(item) for item in raw]
    except ValueError as exc:
        log(f"ERROR: bad checkpoint list: {exc}")
        return 2
    failed = []
    for entry in entries:
        problem = fetch(entry, args.models_dir, args.timeout_seconds, args.progress_seconds)
        if problem is not None:
            log(f"ERROR: {problem}")
            failed.append(entry.label)
    if failed:
        log(f"FAILED: {len(failed)} of {len(entries)} file(s) not in place: {', '.join(failed)}")
        return 1
    log(f"all {len(entries)} declared file(s) present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
