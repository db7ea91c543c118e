"""The move journal: a file that says how far a live move got, so it can be resumed or undone.

It is rewritten atomically (temporary file, fsync, rename) after every step, before the
step's effects could be lost, and it never holds credentials or secret values: kubeconfig
paths and contexts, the bundle path and digest, and object identities only. A new move's
journal is created only where nothing is yet (a file or a link someone prepared there is
refused, never followed), and is 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from movekit.bundle.fastschema import Validator
from movekit.errors import LocalFileError, UsageError
from movekit.refs import ObjectRef
from movekit.schemas import load_schema
from movekit.version import __version__

FORMAT_VERSION = 1



class Phase(StrEnum):
    """The phases of a live move, in order; the values are the journal's ``phase``."""

    PLANNED = "planned"
    PAUSING = "pausing"
    EXPORTED = "exported"
    IMPORTED = "imported"
    VERIFIED = "verified"
    RETIRING = "retiring"
    RETIRED = "retired"
    DONE = "done"
    ROLLED_BACK = "rolled-back"


# Until the target is verified the source still holds everything: undo is resuming it.
ROLLBACK_POSSIBLE = frozenset({Phase.PLANNED, Phase.PAUSING, Phase.EXPORTED, Phase.IMPORTED,
                               Phase.VERIFIED})


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach a cluster again on resume: where the kubeconfig is, never what is in it."""

    kubeconfig: str | None
    context: str | None
    server: str


@dataclass
class Journal:
    path: Path
    source: ClusterAccess
    target: ClusterAccess
    selection: dict[str, Any]
    bundle_path: str
    phase: Phase = Phase.PLANNED
    bundle_digest: str | None = None
    paused: list[ObjectRef] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)  # bundle files whose object was deleted
    events: list[dict[str, str]] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: _now())
    # False until this journal is on disk: the first save creates it, and only where nothing is.
    saved: bool = field(default=False, repr=False, compare=False)

    def advance(self, phase: Phase, message: str = "") -> None:
        """Record that ``phase`` has been reached, durably, before going on."""
        self.phase = phase
        self.events.append({"at": _now(), "phase": phase, "message": message})
        self.save()

    def save(self) -> None:
        document = self.to_json()
        _validator().validate(document)
        try:
            self._write(document)
        except OSError as err:  # a full disk, a quota: name the journal, not its temporary file
            raise LocalFileError(f"{self.path}: cannot be written ({err.strerror or err})") \
                from None
        self.saved = True

    def _write(self, document: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(document, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            if self.saved:
                os.replace(tmp, self.path)
            else:
                self._create(Path(tmp))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _create(self, written: Path) -> None:
        """Give ``written`` the journal's name, which nothing may hold yet: a link fails on
        any existing name, a symbolic link included, and never follows one."""
        try:
            os.link(written, self.path, follow_symlinks=False)
        except FileExistsError:
            raise self._exists() from None
        except OSError:
            # A file system without hard links: claim the name exclusively, then replace it.
            try:
                claimed = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                  | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                raise self._exists() from None
            os.close(claimed)
            os.replace(written, self.path)
            return
        written.unlink()

    def _exists(self) -> UsageError:
        return UsageError(f"{self.path}: exists already; name a new journal with --journal, "
                          f"or continue that move with --resume {self.path}")

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "tool": {"name": "movekit", "version": __version__},
            "startedAt": self.started_at,
            "phase": self.phase,
            "source": _access_json(self.source),
            "target": _access_json(self.target),
            "selection": self.selection,
            "bundle": {"path": self.bundle_path, "digest": self.bundle_digest},
            "paused": [_ref_json(r) for r in self.paused],
            "retired": sorted(self.retired),
            "events": self.events,
        }

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot read journal {path}: {err}") from err
        errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            raise UsageError(f"{path}: not a movekit journal: {where}: {errors[0].message}")
        return cls(
            path=path,
            source=_access(document["source"]),
            target=_access(document["target"]),
            selection=document["selection"],
            bundle_path=document["bundle"]["path"],
            phase=Phase(document["phase"]),
            bundle_digest=document["bundle"]["digest"],
            paused=[ObjectRef(r["group"], r["kind"], r["namespace"], r["name"])
                    for r in document["paused"]],
            retired=list(document["retired"]),
            events=list(document["events"]),
            started_at=document["startedAt"],
            saved=True,
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _access_json(access: ClusterAccess) -> dict[str, Any]:
    return {"kubeconfig": access.kubeconfig, "context": access.context, "server": access.server}


def _access(document: dict[str, Any]) -> ClusterAccess:
    return ClusterAccess(document["kubeconfig"], document["context"], document["server"])


def _ref_json(ref: ObjectRef) -> dict[str, str]:
    return {"group": ref.group, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def _validator() -> Any:
    return Validator(load_schema("journal.v1.json"))
