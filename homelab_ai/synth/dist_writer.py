"""Replace an output folder with a new tree in one atomic step, or leave it exactly as it was.

The steps, under an exclusive lock (``flock`` on the output's parent folder):

1. recover from a crashed run: a fallback swap cut between its two renames is rolled back, and
   every staging or old folder it left (``.<name>.new-*``, ``.<name>.old-*``) is removed;
2. refuse a target the synth did not write (a plain file, or a folder without the marker file
   :data:`MARKER` that holds anything) unless ``overwrite`` is given;
3. write every file into a staging folder beside the target, ``fsync`` each file and folder;
4. swap staging and target in one ``renameat2(RENAME_EXCHANGE)`` call (Linux 3.15+, on ext4,
   xfs, btrfs, tmpfs and most local file systems), then ``fsync`` the parent so the swap is on
   disk; a reader sees the old tree or the new one, never a mix and never nothing;
5. remove the old tree, which now sits at the staging folder's name.

Where the exchange is not supported (not Linux, an old kernel or libc, a file system that
refuses it, e.g. some network file systems) the fallback is two renames: the target to
``.<name>.old-*``, then staging to the target. Between them the target is missing for a moment,
but the old tree is complete beside it and the next run (step 1) renames it back if the process
died there, so no run ever loses the old tree or leaves a half-written one.

Every file-system error (read-only, permission denied, disk full, ...) becomes an OutputError
naming the path and the fix, after the staging folder was removed. ``HOMELAB_AI_FAULT=<step>``
stops the process at a step (``os._exit``), or ``<step>:<ERRNO>`` fails it with that error: the
tests use it to show that every step leaves the old tree or the new one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from homelab_ai.base.errors import OutputError

# Written into the root of every tree the synth writes; a folder without it is not the synth's to replace.
MARKER = ".homelab-ai-dist"
# Comment lines only: a tool that reads every file of the tree as YAML finds an empty document.
MARKER_TEXT = (
    b"# Written by `homelab-ai synth`: this folder is replaced as a whole on every synth.\n"
    b"# Edit the chart (apps/), not these files.\n"
)
FAULT_ENV = "HOMELAB_AI_FAULT"
# `rename` forces the two-rename fallback (to test it where the exchange works).
SWAP_ENV = "HOMELAB_AI_DIST_SWAP"
FAULT_EXIT_CODE = 86
# Steps at which HOMELAB_AI_FAULT may stop the writer, in order.
STEPS = (
    "locked",
    "staging-created",
    "file-written",
    "files-written",
    "synced",
    "moved-away",  # fallback only: the target is at .<name>.old-*, staging not yet in place
    "swapped",
    "old-half-removed",
    "done",
)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errnos that say "this kernel, libc or file system cannot exchange": use the fallback.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


class FileLike(Protocol):
    """What the writer needs of a rendered file: a path relative to the root and its bytes."""

    @property
    def path(self) -> str: ...
    @property
    def content(self) -> bytes: ...


def _fault(step: str) -> None:
    """The fault-injection hook: at ``step``, stop (``os._exit``), fail (``<step>:ENOSPC`` raises that
    OSError), or pause (``<step>:pause`` says so on stderr and waits for its stdin to close)."""
    wanted = os.environ.get(FAULT_ENV, "")
    name, _, error = wanted.partition(":")
    if name != step:
        return
    if error == "pause":
        print(f"paused at {step}", file=sys.stderr, flush=True)
        sys.stdin.read()
        return
    if error:
        code = getattr(errno, error)
        raise OSError(code, os.strerror(code), f"(fault injected at {step})")
    sys.stderr.flush()
    os._exit(FAULT_EXIT_CODE)


def _renameat2_exchange() -> object | None:
    """libc's ``renameat2`` (glibc 2.28+), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2_exchange()


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic step; False when this system cannot (nothing moved)."""
    if _RENAMEAT2 is None or os.environ.get(SWAP_ENV) == "rename":
        return False
    result = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)  # type: ignore[operator]
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _fsync_folder(path: Path) -> None:
    """Flush a folder's entries to disk (files are flushed through the descriptor they were written with)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(folder: Path, what: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (the output's parent): one writer at a time.

    The lock is on the folder itself, not on a lock file, so there is nothing to leave behind and
    no race between unlinking a lock file and another process opening it. It is released when the
    process ends, however it ends.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another synth to finish writing {what} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _leftovers(outdir: Path, kind: str) -> list[Path]:
    prefix = f".{outdir.name}.{kind}-"
    return sorted(p for p in outdir.parent.iterdir() if p.name.startswith(prefix))


def _remove_tree(path: Path) -> None:
    """Remove ``path`` (a tree or a file); folders we own but may not write are made writable first."""

    def retry_writable(function, target, _exc_info) -> None:  # type: ignore[no-untyped-def]
        parent = os.path.dirname(target)
        os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
        function(target)

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=retry_writable)  # onerror: Python 3.11 has no onexc
    elif path.exists() or path.is_symlink():
        path.unlink()


def _target(outdir: Path) -> Path:
    """The absolute output path; a symlink is followed, so the tree replaced is the one it points to."""
    outdir = Path(os.path.abspath(outdir))
    return outdir.resolve() if outdir.is_symlink() else outdir


def recover_output(outdir: Path) -> None:
    """Under the lock, undo what a crashed run left beside ``outdir``; a synth does it before anything
    else, so a refused synth too puts back an old tree that a crash had moved away."""
    outdir = _target(outdir)
    if not outdir.parent.is_dir():
        return
    try:
        with _locked(outdir.parent, outdir):
            recover(outdir)
    except OSError as exc:
        raise _output_error(exc, outdir) from None


def recover(outdir: Path) -> None:
    """Undo what a crashed run left beside ``outdir`` (call with the lock held).

    A fallback swap cut between its renames left no ``outdir`` and the old tree complete at
    ``.<name>.old-*``: it is renamed back. Then every staging and old folder is removed.
    """
    olds = _leftovers(outdir, "old")
    if not outdir.exists() and not outdir.is_symlink() and len(olds) == 1:
        os.rename(olds[0], outdir)
        _fsync_folder(outdir.parent)
    for leftover in _leftovers(outdir, "new") + _leftovers(outdir, "old"):
        _remove_tree(leftover)


def _is_synth_tree(outdir: Path) -> bool:
    """A folder the synth wrote: it has the marker, or (written before the marker existed) only
    folders, each with a kustomization.yaml."""
    if (outdir / MARKER).is_file():
        return True
    entries = list(outdir.iterdir())
    return bool(entries) and all(e.is_dir() and (e / "kustomization.yaml").is_file() for e in entries)


def check_target(outdir: Path, *, overwrite: bool) -> None:
    """Refuse to replace what the synth did not write, unless ``overwrite``."""
    if overwrite or not (outdir.exists() or outdir.is_symlink()):
        return
    if not outdir.is_dir():
        raise OutputError(
            str(outdir),
            "is a file, not a folder the synth wrote; replacing it would lose it",
            "move it away, pick another output folder, or pass --force (overwrite=True) to replace it",
        )
    if any(outdir.iterdir()) and not _is_synth_tree(outdir):
        raise OutputError(
            str(outdir),
            f"holds files the synth did not write (no {MARKER} marker, not a tree of kustomization folders); "
            "replacing it would delete them",
            "pick an empty or new output folder, or pass --force (overwrite=True) to replace it",
        )


def _write_tree(files: Sequence[FileLike], staging: Path) -> None:
    """Every file, then every folder, written and flushed to disk (bottom-up, so each entry is durable)."""
    folders: set[Path] = {staging}
    real_root = staging.resolve()  # the parent path may run through a symlink
    for index, item in enumerate([*files, _Marker()]):
        target = staging / item.path
        if not target.resolve().is_relative_to(real_root):
            raise OutputError(item.path, "points outside the output folder", "use a path relative to it")
        for parent in reversed(target.parents):
            if parent.is_relative_to(staging) and parent not in folders:
                parent.mkdir()
                folders.add(parent)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(item.content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if index == 0:
            _fault("file-written")
    _fault("files-written")
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        os.chmod(folder, 0o755)
        _fsync_folder(folder)
    _fault("synced")


class _Marker:
    path = MARKER
    content = MARKER_TEXT


def _swap(staging: Path, outdir: Path) -> Path | None:
    """Put staging at ``outdir``; return where the old tree now is (to remove), or None."""
    if not outdir.exists() and not outdir.is_symlink():
        os.rename(staging, outdir)
        _fault("swapped")
        return None
    if exchange(staging, outdir):
        _fault("swapped")
        return staging
    # The fallback: the old tree goes to .<name>.old-*, where recover() finds it if we die here.
    old = outdir.parent / f".{outdir.name}.old-{secrets.token_hex(4)}"
    os.rename(outdir, old)
    _fault("moved-away")
    try:
        os.rename(staging, outdir)
    except OSError:
        os.rename(old, outdir)
        raise
    _fault("swapped")
    return old


def _fault_half_removed(old: Path) -> None:
    """For the fault step ``old-half-removed``: remove half of the old tree, then stop (a crash mid-removal)."""
    name, _, _ = os.environ.get(FAULT_ENV, "").partition(":")
    if name == "old-half-removed":
        children = sorted(old.iterdir())
        for child in children[: max(1, len(children) // 2)]:
            _remove_tree(child)
    _fault("old-half-removed")


_FIXES = {
    errno.EACCES: "make {parent} writable for you (or pick another output folder)",
    errno.EPERM: "make {parent} writable for you (or pick another output folder)",
    errno.EROFS: "{parent} is on a read-only file system: pick an output folder on a writable one",
    errno.ENOSPC: "free space on the disk that holds {parent}",
    errno.EDQUOT: "free space within your disk quota for {parent}",
    errno.ENOTDIR: "a part of the path {outdir} is a file: move it away or pick another output folder",
    errno.ENAMETOOLONG: "use a shorter output path",
}


def _output_error(exc: OSError, outdir: Path) -> OutputError:
    where = exc.filename or outdir
    fix = _FIXES.get(exc.errno or 0, "check the folder {parent} and try again").format(
        parent=outdir.parent, outdir=outdir
    )
    reason = exc.strerror or str(exc)
    return OutputError(str(outdir), f"cannot be written: {reason} ({where}); nothing was changed", fix)


def write_tree(files: Iterable[FileLike], outdir: Path, *, overwrite: bool = False) -> None:
    """Make ``files`` (plus the marker) the whole content of ``outdir``, atomically; see the module doc."""
    files = list(files)
    outdir = _target(outdir)
    staging: Path | None = None
    old: Path | None = None
    swapped = False
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        with _locked(outdir.parent, outdir):
            _fault("locked")
            recover(outdir)
            check_target(outdir, overwrite=overwrite)
            staging = outdir.parent / f".{outdir.name}.new-{secrets.token_hex(4)}"
            staging.mkdir(mode=0o700)
            _fault("staging-created")
            _write_tree(files, staging)
            old = _swap(staging, outdir)
            swapped = True
            _fsync_folder(outdir.parent)
            if old is not None:
                _fault_half_removed(old)
                _remove_tree(old)
            _fault("done")
    except (OSError, OutputError) as exc:  # a refused file path too: no staging folder is left behind
        if staging is not None and not swapped:
            with contextlib.suppress(OSError):
                _remove_tree(staging)
        if isinstance(exc, OutputError):
            raise
        if swapped:  # the new tree is in place; only the old one could not be removed: the next run will
            print(f"warning: could not remove the old tree at {old}: {exc}", file=sys.stderr)
            return
        raise _output_error(exc, outdir) from None
