"""Private staging directories beside what is written, and the ones a killed run left behind.

A staging directory is made by ``mkdtemp`` (a new name, created exclusively, never one that
someone could have prepared), is 0700 whatever the umask, and is named
``.<target>.movekit-<pid>-<random>.tmp`` so that the next run recognises it. While the run
lives it holds an exclusive ``flock`` on the directory; the kernel releases the lock when the
process ends, however it ends (SIGKILL included). The next write to the same target removes
each such directory that this user owns and whose lock is free, and reports, in one line, the
others that look like staging (another user's, or of a form that records no owner).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

_MARK = "movekit"


class Staging:
    """A private directory beside ``target``, locked for as long as this object is open."""

    def __init__(self, target: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_MARK}-{os.getpid()}-",
                                          suffix=".tmp", dir=target.parent))
        self._lock: int | None = None
        try:
            os.chmod(self.path, 0o700)  # mkdtemp's mode is 0700, but say it whatever happens
            self._lock = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                 | os.O_CLOEXEC)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """Remove the directory (if it is still there) and release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Release the lock, leaving the directory (it has been published under its new name)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def sweep(target: Path) -> list[Path]:
    """Remove the staging directories of runs for ``target`` that died; the leftovers that are
    not provably ours and dead are returned (a live run's are neither removed nor returned)."""
    ours = re.compile(rf"^\.{re.escape(target.name)}\.{_MARK}-\d+-[A-Za-z0-9_]+\.tmp$")
    # Earlier versions' staging, of a form that records no owner: reported, never removed.
    unowned = re.compile(rf"^\.{re.escape(target.name)}\.(?!{_MARK}-)[A-Za-z0-9_]{{8}}"
                         r"\.(tmp|old)$|^" + re.escape(target.name) + r"\.tmp$")
    left: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return left
    for name in sorted(names):
        path = target.parent / name
        if ours.match(name):
            if _remove_if_dead(path) is False:
                left.append(path)
        elif unowned.match(name):
            left.append(path)
    return left


def _remove_if_dead(path: Path) -> bool | None:
    """Remove ``path`` when it is this user's directory and no live process holds its lock.

    True: removed; None: a live run holds it (or it went meanwhile); False: not ours to remove.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return False  # a symbolic link, a file, or unreadable: not a staging directory of ours
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or not stat.S_ISDIR(info.st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its run is alive
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            return None  # replaced since it was opened: leave whatever is there now
        shutil.rmtree(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def describe_leftovers(target: Path, left: list[Path]) -> str:
    """One line about staging leftovers that were not removed."""
    names = ", ".join(p.name for p in left)
    return (f"{len(left)} staging file(s) or director(ies) beside {target} were left alone: "
            f"they belong to another user or to a run that cannot be proven dead ({names}); "
            "remove them once no export writes there")
