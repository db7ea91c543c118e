"""Least privilege: every command works with exactly the RBAC rules the README lists for it;
credentials that may not pause are refused before anything is paused or written; and a 403 is
reported with the verb, the resource and the namespace that were refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kubesim import Rule
from kubesim.capi.topologies import TOPOLOGIES
from kubesim.controls import WRITE_VERBS
from movekit.bundle import read_bundle
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.model import Selection
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle, target_objects
from tests.scenarios.commands import movekit

README = Path(__file__).resolve().parents[2] / "README.md"

# Placeholders in a case's command line.
SRC, DST, NS, BUNDLE, JOURNAL = "<src>", "<dst>", "<ns>", "<bundle>", "<journal>"


def readme_roles() -> dict[str, tuple[Rule, ...]]:
    """The ClusterRoles of the README's Permissions section, as kubesim rules, by name."""
    section = README.read_text().split("\n## Permissions\n", 1)[1].split("\n## ", 1)[0]
    roles = {}
    for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL):
        for role in yaml.safe_load_all(block):
            roles[role["metadata"]["name"]] = tuple(
                Rule(tuple(r["verbs"]), tuple(r["apiGroups"]), tuple(r["resources"]))
                for r in role["rules"])
    return roles


def without(rules: tuple[Rule, ...], verb: str, resource: str) -> tuple[Rule, ...]:
    """``rules`` minus one verb on one resource."""
    kept = []
    for rule in rules:
        if resource not in rule.resources or verb not in rule.verbs:
            kept.append(rule)
            continue
        others = tuple(r for r in rule.resources if r != resource)
        if others:
            kept.append(Rule(rule.verbs, rule.groups, others))
        kept.append(Rule(tuple(v for v in rule.verbs if v != verb), rule.groups, (resource,)))
    return tuple(kept)


def _writes(env: Env, user: str) -> list[str]:
    """Writes ``user`` made, as kubesim's request log shows them (none known on a real
    cluster, where the outcome assertions stand alone)."""
    if env.sim is None:
        return []
    return [f"{r.method} {r.path}" for r in env.sim.request_log
            if r.user == user and r.verb in WRITE_VERBS and 200 <= r.code < 300]


def _refused(env: Env, user: str) -> list[str]:
    if env.sim is None:
        return []
    return [f"{r.method} {r.path}" for r in env.sim.request_log
            if r.user == user and r.code == 403]


@dataclass(frozen=True)
class Case:
    topology: str
    source_role: str | None  # None: the command does not touch that side
    target_role: str | None
    command: tuple[str, ...]
    before: str = ""  # "exported", "imported" or "left-paused": done first with full rights


EXPORT = ("export", "--kubeconfig", SRC, "-n", NS, "--to-directory", BUNDLE)
IMPORT = ("import", "--kubeconfig", DST, "--from-directory", BUNDLE)
MOVE = ("move", "--kubeconfig", SRC, "--to-kubeconfig", DST, "-n", NS, "--journal", JOURNAL)
CASES = {
    "export a ClusterClass across namespaces": Case(
        "clusterclass-other-namespace", "movekit-export", None, EXPORT),
    "export a global identity": Case("global-identity", "movekit-export", None, EXPORT),
    "export --dry-run": Case(
        "clusterclass-same-namespace", "movekit-export", None, (*EXPORT[:5], "--dry-run")),
    "export --no-pause": Case(
        "clusterclass-other-namespace", "movekit-export-readonly", None, (*EXPORT, "--no-pause")),
    "export --leave-paused": Case(
        "clusterclass-same-namespace", "movekit-export", None, (*EXPORT, "--leave-paused")),
    "import --dry-run": Case(
        "clusterclass-other-namespace", None, "movekit-import-dry-run", (*IMPORT, "--dry-run"),
        before="exported"),
    "import a ClusterClass across namespaces": Case(
        "clusterclass-other-namespace", None, "movekit-import", IMPORT, before="exported"),
    "import a global identity": Case(
        "global-identity", None, "movekit-import", IMPORT, before="exported"),
    "move a ClusterClass across namespaces": Case(
        "clusterclass-other-namespace", "movekit-move-source", "movekit-move-target", MOVE),
    "move a global identity": Case(
        "global-identity", "movekit-move-source", "movekit-move-target", MOVE),
    "retire": Case("clusterclass-same-namespace", "movekit-retire", "movekit-import-dry-run",
                   ("retire", "--yes", "--kubeconfig", SRC, "--to-kubeconfig", DST,
                    "--from-directory", BUNDLE),
                   before="imported"),
    "resume-source": Case("clusterclass-same-namespace", "movekit-resume-source", None,
                          ("resume-source", "--kubeconfig", SRC, "--from-directory", BUNDLE),
                          before="left-paused"),
}


def _prepare(case: Case, src: Env, dst: Env, namespace: str, bundle: Path) -> None:
    if not case.before:
        return
    with src.client() as source:
        export_bundle(source, ExportOptions(selection=Selection(namespace=namespace),
                                            target=bundle, leave_paused=True))
    if case.before == "imported":
        with dst.client() as target:
            import_bundle(target, bundle, ImportOptions())


def _command(case: Case, values: dict[str, str | Path]) -> list[str | Path]:
    return [values.get(arg, arg) for arg in case.command]


@pytest.mark.parametrize("name", CASES)
def test_each_command_works_with_exactly_the_rules_the_readme_lists(
    name: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    case = CASES[name]
    src.seed(TOPOLOGIES[case.topology], namespace=namespace)
    bundle = tmp_path / "bundle"
    _prepare(case, src, dst, namespace, bundle)
    roles = readme_roles()
    values: dict[str, str | Path] = {
        NS: namespace, BUNDLE: bundle, JOURNAL: tmp_path / "move.journal.json",
        SRC: (src.kubeconfig_for(case.source_role, roles[case.source_role],
                                 tmp_path / "src.yaml", namespace)
              if case.source_role else tmp_path / "none"),
        DST: (dst.kubeconfig_for(case.target_role, roles[case.target_role],
                                 tmp_path / "dst.yaml", namespace)
              if case.target_role else tmp_path / "none"),
    }

    completed = movekit(*_command(case, values))

    assert completed.returncode == 0, completed.stderr
    for env, role in ((src, case.source_role), (dst, case.target_role)):
        if role is not None:
            assert not _refused(env, role), f"{role} was refused requests"
    if case.target_role == "movekit-import" or case.source_role == "movekit-move-source":
        with dst.client() as client:
            assert_target_holds_bundle(client, read_bundle(
                Path(str(values[JOURNAL]).removesuffix(".json") + ".bundle")
                if case.source_role else bundle))
    if case.source_role == "movekit-retire":
        with src.client() as client:
            left = target_objects(client, read_bundle(bundle))
        kept = {e.ref for e in read_bundle(bundle).entries if e.is_global or e.keep_in_source}
        assert set(left) == kept


@pytest.mark.parametrize("command", [EXPORT, MOVE])
def test_credentials_that_may_not_pause_are_refused_before_anything_is_written(
    command: tuple[str, ...], src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["clusterclass-same-namespace"], namespace=namespace)
    reader = "movekit-export-readonly"
    values: dict[str, str | Path] = {
        NS: namespace, BUNDLE: tmp_path / "bundle", JOURNAL: tmp_path / "move.journal.json",
        SRC: src.kubeconfig_for(reader, readme_roles()[reader], tmp_path / "src.yaml",
                                namespace),
        DST: dst.kubeconfig,
    }

    target_writes = dst.sim.request_count(write=True) if dst.sim is not None else 0

    completed = movekit(*[values.get(arg, arg) for arg in command])

    assert completed.returncode == 4, completed.stderr
    message = " ".join(completed.stderr.split())
    for resource, name in (("clusters", "c1"), ("clusterclasses", "quick-start")):
        assert (f"patch {resource}.cluster.x-k8s.io {name} in namespace {namespace}: "
                "403 Forbidden") in message
    assert "--no-pause" in message
    assert not _writes(src, reader)
    assert not list(tmp_path.glob("bundle*")) and not list(tmp_path.glob("move.journal*"))
    if dst.sim is not None:
        assert dst.sim.request_count(write=True) == target_writes


@pytest.mark.parametrize(("role", "verb", "resource", "command", "before", "code", "says"), [
    ("movekit-import", "create", "secrets", IMPORT, "exported", 7,
     r"create secrets c1-\w+ in namespace {ns}: 403 Forbidden"),
    ("movekit-import", "list", "secrets", IMPORT, "exported", 6,
     "list secrets in namespace {ns}: 403 Forbidden"),
    ("movekit-export", "list", "secrets", (*EXPORT[:3], "-A", *EXPORT[5:]), "", 6,
     "list secrets in all namespaces: 403 Forbidden"),
    ("movekit-retire", "delete", "secrets",
     ("retire", "--yes", "--kubeconfig", SRC, "--from-directory", BUNDLE, "--force"), "imported", 6,
     r"delete secrets c1-\w+ in namespace {ns}: 403 Forbidden"),
])
def test_a_refused_request_names_its_verb_resource_and_namespace(
    role: str, verb: str, resource: str, command: tuple[str, ...], before: str, code: int,
    says: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    topology = "cluster-alone"
    src.seed(TOPOLOGIES[topology], namespace=namespace)
    case = Case(topology, None, None, command, before)
    _prepare(case, src, dst, namespace, tmp_path / "bundle")
    env = dst if DST in command else src
    kubeconfig = env.kubeconfig_for(role, without(readme_roles()[role], verb, resource),
                                    tmp_path / "restricted.yaml", namespace)
    values: dict[str, str | Path] = {NS: namespace, BUNDLE: tmp_path / "bundle",
                                     SRC: kubeconfig, DST: kubeconfig}

    completed = movekit(*_command(case, values))

    assert completed.returncode == code, completed.stderr
    assert re.search(says.format(ns=namespace), " ".join(completed.stderr.split()))
    assert "Traceback" not in completed.stderr
