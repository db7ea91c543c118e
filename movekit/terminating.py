"""Waiting for deleted objects to be gone, and saying why those that stay are still there.

A DELETE is not the end of an object: finalizers hold it, and an Orphan or Foreground delete
adds one (``orphan``, ``foregroundDeletion``) that only the garbage collector in
kube-controller-manager removes, after it has un-owned (Orphan) or deleted (Foreground) the
dependents. An object is gone when its name no longer answers with its UID: absent, or a new
object of the same name.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from movekit.kube import ApiResource, KubeClient
from movekit.progress import ProgressLike, reporter_of
from movekit.refs import ObjectRef

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
GC_FINALIZERS = frozenset({ORPHAN_FINALIZER, FOREGROUND_FINALIZER})
# Polls start quick (a collector usually needs well under a second) and slow down to this.
_MAX_POLL_INTERVAL = 2.0
_LISTED_PER_REASON = 20


@dataclass(frozen=True)
class Deleted:
    """An object whose DELETE was accepted, to be waited for."""

    ref: ObjectRef
    res: ApiResource
    uid: str


@dataclass(frozen=True, order=True)
class Terminating:
    """An object still there after the wait, and the finalizers that hold it."""

    ref: ObjectRef
    finalizers: tuple[str, ...]


@dataclass
class Waited:
    gone: list[ObjectRef]
    terminating: list[Terminating]
    seconds: float


def wait_until_gone(client: KubeClient, deleted: Sequence[Deleted], timeout: float,
                    progress: ProgressLike | None = None) -> Waited:
    """Poll until every object in ``deleted`` is gone or ``timeout`` seconds have passed.

    One LIST per resource and namespace per poll, whatever the number of objects.
    """
    report = reporter_of(progress)
    started = time.monotonic()
    deadline = started + timeout
    waiting: dict[tuple[ApiResource, str], dict[str, Deleted]] = defaultdict(dict)
    for item in deleted:
        waiting[item.res, item.ref.namespace][item.ref.name] = item
    gone: list[ObjectRef] = []
    held: dict[ObjectRef, tuple[str, ...]] = {}
    interval = 0.1
    shown = -1
    with report.task("waiting for deleted objects to go", len(deleted)) as advance:
        while True:
            held = {}
            for (res, namespace), names in list(waiting.items()):
                live = {str(o["metadata"]["name"]): o["metadata"]
                        for o in client.iter_list(res, namespace or None)}
                for name, item in list(names.items()):
                    meta = live.get(name)
                    if meta is None or meta.get("uid") != item.uid:
                        gone.append(item.ref)
                        del names[name]
                        advance()
                    else:
                        held[item.ref] = tuple(meta.get("finalizers") or ())
                if not names:
                    del waiting[res, namespace]
            now = time.monotonic()
            if not waiting or now >= deadline:
                break
            if len(held) != shown:
                report.detail(f"{len(held)} deleted object(s) still terminating")
                shown = len(held)
            time.sleep(min(interval, deadline - now))
            interval = min(interval * 2, _MAX_POLL_INTERVAL)
    terminating = sorted(Terminating(ref, finalizers) for ref, finalizers in held.items())
    return Waited(sorted(gone), terminating, time.monotonic() - started)


def explain(waited: Waited) -> str:
    """What still terminates, grouped by what holds it, and why; a few names per group."""
    groups: dict[tuple[str, ...], list[ObjectRef]] = defaultdict(list)
    for item in waited.terminating:
        groups[item.finalizers].append(item.ref)
    lines = [f"{len(waited.terminating)} deleted object(s) still terminating after "
             f"{waited.seconds:.0f}s:"]
    for finalizers, refs in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        lines.append(f"  {len(refs)} {_held_by(finalizers, collector_ran=bool(waited.gone))}:")
        lines.extend(f"    {ref}" for ref in refs[:_LISTED_PER_REASON])
        if len(refs) > _LISTED_PER_REASON:
            lines.append(f"    ... and {len(refs) - _LISTED_PER_REASON} more")
    return "\n".join(lines)


def _held_by(finalizers: tuple[str, ...], collector_ran: bool) -> str:
    others = [f for f in finalizers if f not in GC_FINALIZERS]
    collector = [f for f in finalizers if f in GC_FINALIZERS]
    if others:
        return (f"held by finalizer(s) {', '.join(others)}: the controller that added them "
                "must remove them")
    if collector:
        why = ("the garbage collector has not finished with them yet" if collector_ran else
               "no garbage collector seems to run in this cluster (kube-controller-manager "
               "removes it after un-owning their dependents)")
        return f"with the {collector[0]} finalizer: {why}"
    return "still present without finalizers (their deletion is in progress)"
