"""An exclusive lock across processes on a file, held by an OS lock on a `<file>.lock` beside it.

Every read-modify-write of a shared file takes it, so two writers never both edit the text they read before the
other wrote (a lost update). Readers need no lock: writes replace the file atomically.

POSIX uses `fcntl.flock` and Windows `msvcrt.locking`; each waits for the holder, at most `WAIT_S` (a stopped
process holding it must not hang a server for good). The lock belongs to the open
file, so threads of one process exclude each other too, and a process that dies releases it. The lock file
itself is never deleted: removing it while another process waits would let two holders in at once.
"""

from __future__ import annotations

import errno
import os
import select
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".lock"
#: how long a writer waits for another holder before giving up with a `LockError` (an edit takes milliseconds)
WAIT_S = 30.0


class LockError(Exception):
    """The lock could not be taken; the message names the file and the fix."""


def lock_path(path: Path) -> Path:
    """The lock file guarding `path`: `<file>.lock` in the same directory."""
    return path.with_name(path.name + LOCK_SUFFIX)


@contextmanager
def exclusive(path: Path, *, mode: int = 0o600) -> Iterator[Path]:
    """Hold the lock guarding `path` (waiting for any other holder) for the body; yields the lock file's path.

    Raises:
        LockError: the lock file cannot be created or locked (e.g. the directory is read-only).
    """
    target = lock_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, mode)
    except OSError as error:
        raise LockError(
            f"cannot create {target} ({error.strerror}); check the permissions of {target.parent}"
        ) from error
    try:
        try:
            _lock(fd, time.monotonic() + WAIT_S)
        except TimeoutError as error:
            raise LockError(
                f"another process has held {target} for more than {WAIT_S:g} s; if no provider-router command is "
                "running (a stopped one holds it: `fg` it or end it), try again"
            ) from error
        except OSError as error:
            raise LockError(f"cannot lock {target} ({error.strerror})") from error
        try:
            yield target
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int, deadline: float) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError as error:
                # LK_LOCK gives up after ~10 s of waiting (EDEADLOCK); a writer holds it only for one edit
                if error.errno != errno.EDEADLOCK:
                    raise
                if time.monotonic() >= deadline:
                    raise TimeoutError from error

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int, deadline: float) -> None:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError from None
                # a pause of this thread (it runs off the event loop); select's timeout is relative, where a timed
                # Event.wait takes an absolute deadline that a moved clock (libfaketime in CI) can push years away
                select.select([], [], [], 0.01)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
