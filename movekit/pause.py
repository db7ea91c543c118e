"""Pausing and resuming Cluster API reconciliation, and waiting for block-move to clear.

How each kind pauses is a rule of the contract (:mod:`movekit.contract`): a Cluster with
``spec.paused: true``, a ClusterClass with the paused annotation. Resuming writes
``spec.paused: null`` rather than ``false``: the field disappears, and with it movekit's entry
in managedFields, so the object looks as if movekit had never touched it. Objects that were
paused before movekit came stay paused.

The patch that pauses also sets the annotation ``movekit.io/paused-by`` to this run's identity,
and the one that resumes removes it: when a run is killed before it can resume (SIGKILL), the
next export and ``resume-source`` see which pauses are movekit's and undo them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from movekit.contract import (
    BLOCK_MOVE_ANNOTATION,
    CLUSTER_API,
    PAUSED_BY_ANNOTATION,
    Contract,
    Pause,
    field_value,
)
from movekit.errors import PrecheckFailed
from movekit.kube import FIELD_MANAGER, ApiResource, Forbidden, KubeClient, NotFound
from movekit.refs import ObjectRef

# Pausing a thousand Clusters, one request each at 20 ms latency, takes 1.3 s with 16 in
# flight and 2.6 s with 8.
_WORKERS = 16
# This process's identity on what it pauses: when it began, and its process id.
RUN_ID = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}"


def is_pausable(ref: ObjectRef, contract: Contract = CLUSTER_API) -> bool:
    return ref.group_kind in contract.pause


def _rule(ref: ObjectRef, contract: Contract) -> Pause:
    rule = contract.pause.get(ref.group_kind)
    if rule is None:
        raise ValueError(f"{ref} has no pause rule")
    return rule


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``("spec", "paused"), True`` -> ``{"spec": {"paused": True}}``."""
    patch: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        patch = {key: patch}
    return patch


def pause_patch(ref: ObjectRef, paused: bool, contract: Contract = CLUSTER_API) -> dict[str, Any]:
    """The merge patch that pauses (or resumes) an object of a pausable kind, marking it as
    paused by this run (or removing the mark)."""
    rule = _rule(ref, contract)
    mark = {PAUSED_BY_ANNOTATION: RUN_ID if paused else None}
    if rule.field:
        return {**_nested(rule.field, True if paused else None),
                "metadata": {"annotations": mark}}
    return {"metadata": {"annotations": {rule.annotation: "" if paused else None, **mark}}}


def paused_by_movekit(obj: Mapping[str, Any]) -> bool:
    """Whether a run of movekit paused ``obj`` (and was killed before it could resume it)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, Mapping) and PAUSED_BY_ANNOTATION in annotations


def mark_paused(body: dict[str, Any], contract: Contract = CLUSTER_API) -> None:
    """Set the pause of ``body`` in place, as the pause patch would (a body to create)."""
    rule = _rule(ObjectRef.of(body), contract)
    if rule.field:
        *parents, last = rule.field
        node = body
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = True
    else:
        meta = body.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), rule.annotation: ""}


def is_paused(obj: Mapping[str, Any], contract: Contract = CLUSTER_API) -> bool:
    """Whether ``obj``, of a pausable kind, is paused the way :func:`pause_patch` pauses it."""
    rule = _rule(ObjectRef.of(obj), contract)
    if rule.field:
        return field_value(obj, rule.field) is True
    return rule.annotation in ((obj.get("metadata") or {}).get("annotations") or {})


def unpaused_copy(obj: Mapping[str, Any], contract: Contract = CLUSTER_API) -> dict[str, Any]:
    """``obj`` as it was before movekit paused it: no pause, no mark of the run that paused it,
    and no ``movekit`` field owner."""
    rule = _rule(ObjectRef.of(obj), contract)
    copy = dict(obj)
    meta = dict(copy.get("metadata") or {})
    if rule.field:
        # Copy each mapping on the way, so that ``obj`` itself is left as it was.
        *parents, last = rule.field
        node = copy
        for key in parents:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node.pop(last, None)
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(PAUSED_BY_ANNOTATION, None)
    if rule.annotation:
        annotations.pop(rule.annotation, None)
    meta["annotations"] = annotations
    if not annotations:
        del meta["annotations"]
    if "managedFields" in meta:
        meta["managedFields"] = [m for m in meta["managedFields"]
                                 if m.get("manager") != FIELD_MANAGER]
    copy["metadata"] = meta
    return copy


@dataclass(frozen=True)
class Pausable:
    ref: ObjectRef
    resource: ApiResource


def set_paused(client: KubeClient, targets: Iterable[Pausable], paused: bool) -> list[ObjectRef]:
    """Pause or resume every target, concurrently; returns those found (gone ones are skipped)."""
    items = list(targets)
    if not items:
        return []

    def one(item: Pausable) -> bool:
        # One request per target: a patch of an object that is gone answers 404.
        try:
            client.merge_patch(item.resource, item.ref.namespace, item.ref.name,
                               pause_patch(item.ref, paused))
        except NotFound:
            return False
        return True

    found = list(client.map(one, items, limit=_WORKERS))
    return [item.ref for item, present in zip(items, found, strict=True) if present]


def pause_denials(client: KubeClient, targets: Iterable[Pausable]) -> list[str]:
    """Why the credentials may not pause ``targets``: one line per kind and namespace denied.

    Each (kind, namespace) is tried once with the real pause patch as a server-side dry run.
    A SelfSubjectAccessReview would ask the authorizer only; the dry run goes through the same
    authorization and admission as the patch itself, whatever authorizer the cluster uses, and
    persists nothing. A target gone since it was read proves nothing and is skipped.
    """
    probes: dict[tuple[ApiResource, str], Pausable] = {}
    for item in targets:
        probes.setdefault((item.resource, item.ref.namespace), item)
    if not probes:
        return []

    def one(item: Pausable) -> str | None:
        try:
            client.merge_patch(item.resource, item.ref.namespace, item.ref.name,
                               pause_patch(item.ref, paused=True), dry_run=True)
        except Forbidden as err:
            return str(err)
        except NotFound:
            pass
        return None

    return [d for d in client.map(one, probes.values(), limit=_WORKERS) if d is not None]


def wait_block_move(
    client: KubeClient,
    blocked: Mapping[ObjectRef, ApiResource],
    timeout: float,
    *,
    interval: float = 1.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Wait until none of ``blocked`` carries the block-move annotation (one overall timeout).

    Providers set the annotation while they finish work that must not be interrupted by a
    move; they remove it once it is safe. Objects that disappear no longer block.
    """
    waiting = dict(blocked)
    total = len(waiting)
    deadline = time.monotonic() + timeout
    while waiting:
        def still_blocked(item: tuple[ObjectRef, ApiResource]) -> bool:
            ref, res = item
            obj = client.get(res, ref.namespace, ref.name)
            annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
            return obj is not None and BLOCK_MOVE_ANNOTATION in annotations

        flags = list(client.map(still_blocked, waiting.items(), limit=_WORKERS))
        waiting = {ref: res for (ref, res), flag in zip(waiting.items(), flags, strict=True)
                   if flag}
        if on_progress:
            on_progress(total - len(waiting), total)
        if not waiting:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(str(ref) for ref in sorted(waiting))
            raise PrecheckFailed(
                f"timed out after {timeout:g}s waiting for {BLOCK_MOVE_ANNOTATION} to be removed "
                f"from: {names}"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
