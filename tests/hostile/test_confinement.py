"""Correctly sealed bundles that reach beyond what the operator asked for, or that the target
would refuse half-way: ``movekit import`` refuses each at plan time, exit 4, with one line
naming the object and, where one exists, the flag that allows it, and writes nothing.

Every case starts from a real export (the global-identity topology: a Cluster, its Secrets,
a cluster-scoped identity and its credentials Secret in the provider namespace), changes one
thing and re-seals the bundle (checksums and digest recomputed), so that only the importer's
plan stands between it and the target. A hypothesis test then re-seals random shape
mutations of the objects: the import is refused before any write, or completes in full.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from kubernetes import config as k8s_config

from kubesim import KubeSim
from kubesim.capi.topologies import TOPOLOGIES, seed
from movekit import cli
from movekit.bundle import object_path
from movekit.errors import PrecheckFailed
from movekit.export import ExportOptions, export_bundle
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.plan import remap_ref
from movekit.refs import ObjectRef
from tests.bundle.bundle_samples import tamper
from tests.conftest import unique_name
from tests.lanes import KUBESIM, LANES, NO_REAL_LANE, REAL, RealCluster, prepare

Doc = dict[str, Any]


@dataclass
class Ground:
    """One target per lane and module, and a bundle exported from a seeded source."""

    lane: str
    base: Path  # the exported bundle; cases copy it
    namespace: str  # the selection's namespace
    kubeconfig: Path  # the target's
    sim: KubeSim | None  # the target, in the kubesim lane
    work: Path
    made: list[str] = field(default_factory=list)  # target namespaces imports created


@pytest.fixture(scope="module", params=LANES)
def ground(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Ground]:
    work = tmp_path_factory.mktemp("confinement")
    namespace = unique_name(f"{__name__}-{request.param}")
    if request.param == REAL:
        pair: tuple[RealCluster, RealCluster] | None = request.getfixturevalue("real_pair")
        if pair is None:
            pytest.skip(NO_REAL_LANE)
        try:
            yield _ground(REAL, work, namespace, pair[0].kubeconfig, pair[1].kubeconfig, None)
        finally:
            for cluster in pair:
                cluster.forget(namespace)
        return
    assert request.param == KUBESIM
    with KubeSim() as source, KubeSim() as target:
        configs = []
        for name, sim in (("source", source), ("target", target)):
            configs.append(sim.write_kubeconfig(work / f"{name}.kubeconfig"))
            api = sim.api_client()
            try:
                prepare(api, upstream=False)
            finally:
                api.close()
        yield _ground(KUBESIM, work, namespace, configs[0], configs[1], target)


def _ground(lane: str, work: Path, namespace: str, source: Path, target: Path,
            sim: KubeSim | None) -> Ground:
    api = k8s_config.new_client_from_config(config_file=str(source))
    try:
        seed(api, TOPOLOGIES["global-identity"], namespace=namespace)
    finally:
        api.close()
    with KubeClient(source) as client:
        export_bundle(client, ExportOptions(selection=Selection(namespace=namespace),
                                            target=work / "base", leave_paused=True))
    return Ground(lane, work / "base", namespace, target, sim, work)


# --- building a case -------------------------------------------------------------------------

class Edit:
    """A copy of the exported bundle, changed through its objects and manifest, then sealed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest: Doc = json.loads((path / "manifest.json").read_text())
        self.files: dict[str, bytes | None] = {}

    def entry(self, kind: str, name_part: str = "") -> Doc:
        return next(o for o in self.manifest["objects"]
                    if o["kind"] == kind and name_part in o["name"])

    def obj(self, entry: Doc) -> Doc:
        data = self.files.get(entry["file"]) or (self.path / entry["file"]).read_bytes()
        loaded: Doc = read_yaml(data)
        return loaded

    def put(self, entry: Doc, obj: Doc) -> None:
        self.files[entry["file"]] = json.dumps(obj, indent=1, ensure_ascii=False).encode()

    def change(self, kind: str, name_part: str, how: Callable[[Doc], None]) -> Doc:
        entry = self.entry(kind, name_part)
        obj = self.obj(entry)
        how(obj)
        self.put(entry, obj)
        return obj

    def relocate(self, entry: Doc, namespace: str) -> None:
        """Move an object to ``namespace`` in its file and in the manifest."""
        obj = self.obj(entry)
        self.files[entry["file"]] = None
        if namespace:
            obj["metadata"]["namespace"] = namespace
        else:
            obj["metadata"].pop("namespace", None)
        entry["namespace"] = namespace
        entry["file"] = object_path(_ref(entry))
        self.put(entry, obj)

    def add(self, obj: Doc, *, namespaced: bool, like: str = "Secret", wave: int = 1) -> Doc:
        """A new object, listed in the manifest (with its kind, if new)."""
        meta = obj["metadata"]
        group, _, version = obj["apiVersion"].rpartition("/")
        if not any(k["kind"] == obj["kind"] and k["group"] == group
                   for k in self.manifest["kinds"]):
            self.manifest["kinds"].append({"group": group, "version": version,
                                           "kind": obj["kind"],
                                           "plural": obj["kind"].lower() + "s",
                                           "namespaced": namespaced, "crd": None})
        entry = copy.deepcopy(self.entry(like))
        entry.update(apiVersion=obj["apiVersion"], kind=obj["kind"],
                     namespace=meta.get("namespace", ""), name=meta["name"],
                     sourceUID=f"uid-added-{meta['name'].replace('.', '-')}", wave=wave,
                     owners=[], softOwners=[])
        entry["flags"] = {"global": False, "keepInSource": False, "wasPaused": None}
        entry["file"] = object_path(_ref(entry))
        self.manifest["objects"].append(entry)
        self.put(entry, obj)
        return entry

    def seal(self) -> None:
        """Write the changes, with checksums and digest consistent: the bundle verifies."""
        mine = self.manifest

        def reseal(doc: Doc) -> None:
            doc.clear()
            doc.update(copy.deepcopy(mine))
            for item in doc["objects"]:
                item["sha256"] = hashlib.sha256((self.path / item["file"]).read_bytes()
                                                ).hexdigest()

        tamper(self.path, files=self.files, manifest=reseal)
        for directory in sorted(self.path.rglob("*"), key=lambda p: -len(p.parts)):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()  # a bundle holds no directory its manifest does not use


def read_yaml(data: bytes) -> Doc:
    loaded: Doc = yaml.safe_load(data)
    return loaded


def _ref(entry: Doc) -> ObjectRef:
    group = entry["apiVersion"].rpartition("/")[0]
    return ObjectRef(group, entry["kind"], entry["namespace"], entry["name"])


# --- the cases -------------------------------------------------------------------------------

Make = Callable[[Edit, str], str]  # (bundle, selected namespace) -> the object the line names


@dataclass(frozen=True)
class Case:
    id: str
    make: Make
    says: str  # a regular expression the line naming the object matches
    args: tuple[str, ...] = ()
    allowed_by: tuple[str, ...] = ()  # flags with which the same bundle plans cleanly


def _secret(e: Edit, ns: str, change: Callable[[Doc], None], part: str = "-ca") -> str:
    e.change("Secret", part, change)
    return str(_ref(e.entry("Secret", part)))


def _relocated(kind: str, part: str, namespace: str | Callable[[str], str]) -> Make:
    def make(e: Edit, ns: str) -> str:
        entry = e.entry(kind, part)
        e.relocate(entry, namespace(ns) if callable(namespace) else namespace)
        return str(_ref(entry))
    return make


def _config_map(namespace: str | Callable[[str], str], *, data: Any = None,
                binary: Any = None, selection_all: bool = False) -> Make:
    def make(e: Edit, ns: str) -> str:
        where = namespace(ns) if callable(namespace) else namespace
        obj: Doc = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "extra-settings", "namespace": where}}
        if data is not None:
            obj["data"] = data
        if binary is not None:
            obj["binaryData"] = binary
        if selection_all:
            e.manifest["selection"] = {"namespace": None, "clusters": []}
        return str(_ref(e.add(obj, namespaced=True)))
    return make


def _namespace_object(name: str | Callable[[str], str], labels: Doc | None = None,
                      replace_entries: bool = False) -> Make:
    def make(e: Edit, ns: str) -> str:
        obj: Doc = {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name(ns) if callable(name) else name}}
        if labels:
            obj["metadata"]["labels"] = labels
        if replace_entries:
            e.manifest["namespaces"] = []
        return str(_ref(e.add(obj, namespaced=False, wave=0)))
    return make


def _manifest_namespace(field_name: str, key: str) -> Make:
    def make(e: Edit, ns: str) -> str:
        for entry in e.manifest["namespaces"]:
            entry[field_name][key] = "privileged"
        return f"namespace {ns}"
    return make


def _claimed_provider(e: Edit, ns: str) -> str:
    e.manifest["providers"].append({"name": "infrastructure-evil", "namespace": f"{ns}-victim",
                                    "type": "InfrastructureProvider", "version": "v0.0.1"})
    entry = next(o for o in e.manifest["objects"]
                 if o["kind"] == "Secret" and o["flags"]["keepInSource"])
    e.relocate(entry, f"{ns}-victim")
    return str(_ref(entry))


def _shared_secret(change: Callable[[Doc], None]) -> Make:
    def make(e: Edit, ns: str) -> str:
        entry = next(o for o in e.manifest["objects"]
                     if o["kind"] == "Secret" and o["flags"]["keepInSource"])
        obj = e.obj(entry)
        change(obj)
        e.put(entry, obj)
        return str(_ref(entry))
    return make


def _namespaced_identity(e: Edit, ns: str) -> str:
    """The cluster-scoped identity given a namespace, its kind entry agreeing."""
    secret = next(o for o in e.manifest["objects"]
                  if o["kind"] == "Secret" and o["flags"]["keepInSource"])
    e.manifest["objects"].remove(secret)
    e.files[secret["file"]] = None
    identity = e.entry("AWSClusterStaticIdentity")
    e.relocate(identity, ns)
    for kind in e.manifest["kinds"]:
        if kind["kind"] == "AWSClusterStaticIdentity":
            kind["namespaced"] = True
    for entry in e.manifest["objects"]:
        for owner in entry["owners"]:
            if owner["kind"] == "AWSClusterStaticIdentity":
                owner["namespace"] = ns
    return str(_ref(identity))


def _cluster_scoped_aws_cluster(e: Edit, ns: str) -> str:
    """A namespaced kind given no namespace, its kind entry agreeing."""
    entry = e.entry("AWSCluster")
    e.change("AWSCluster", "", lambda o: o["metadata"].pop("ownerReferences", None))
    entry["owners"] = []
    e.relocate(entry, "")
    for kind in e.manifest["kinds"]:
        if kind["kind"] == "AWSCluster":
            kind["namespaced"] = False
    return str(_ref(entry))


def _owned(change: Callable[[Doc], None]) -> Make:
    def make(e: Edit, ns: str) -> str:
        e.change("AWSCluster", "", change)
        return str(_ref(e.entry("AWSCluster")))
    return make


def _meta(change: Callable[[Doc], None], kind: str = "Cluster") -> Make:
    def make(e: Edit, ns: str) -> str:
        e.change(kind, "", lambda o: change(o["metadata"]))
        return str(_ref(e.entry(kind)))
    return make


def _spec(value: Any) -> Make:
    def make(e: Edit, ns: str) -> str:
        e.change("AWSCluster", "", lambda o: o.update(spec=value))
        return str(_ref(e.entry("AWSCluster")))
    return make


def _same_uid(e: Edit, ns: str) -> str:
    first, second = (o for o in e.manifest["objects"]
                     if o["kind"] == "Secret" and not o["flags"]["keepInSource"])
    second["sourceUID"] = first["sourceUID"]
    return str(_ref(second))


def _extra_owner(o: Doc) -> None:
    o["metadata"].setdefault("ownerReferences", []).append(
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": "other",
         "uid": "6d1b6a52-0000-4000-8000-000000000000"})


def _second_controller(o: Doc) -> None:
    refs = o["metadata"]["ownerReferences"]
    refs.append({**refs[0], "name": "twin"})


SA = "kubernetes.io/service-account-token"
BOOTSTRAP = "bootstrap.kubernetes.io/token"
PSA = "pod-security.kubernetes.io/enforce"
HUGE = "x" * (300 * 1024)

CASES = [
    # Confinement: namespaces
    Case("secret-in-kube-system", _relocated("Secret", "-ca", "kube-system"),
         r"kube-system is a system namespace; --allow-namespace kube-system permits it",
         allowed_by=("--allow-namespace", "kube-system")),
    Case("identity-secret-in-kube-public",
         lambda e, ns: _relocated("Secret", next(
             o["name"] for o in e.manifest["objects"]
             if o["kind"] == "Secret" and o["flags"]["keepInSource"]), "kube-public")(e, ns),
         r"kube-public is a system namespace; --allow-namespace kube-public permits it"),
    Case("configmap-outside-selection", _config_map(lambda ns: f"{ns}-elsewhere",
                                                     data={"k": "v"}),
         r"outside the bundle's selection .*; --allow-namespace \S+-elsewhere permits it"),
    Case("configmap-in-kube-node-lease", _config_map("kube-node-lease", data={"k": "v"},
                                                      selection_all=True),
         r"kube-node-lease is a system namespace; --allow-namespace kube-node-lease"),
    Case("all-namespaces-into-provider-namespace",
         _config_map("capa-system", data={"k": "v"}, selection_all=True),
         r"the target runs providers in namespace capa-system; --allow-namespace capa-system",
         allowed_by=("--allow-namespace", "capa-system")),
    Case("namespace-object-kube-public", _namespace_object("kube-public"),
         r"kube-public is a system namespace; --allow-namespace kube-public"),
    Case("namespace-object-outside-selection", _namespace_object(lambda ns: f"{ns}-victim"),
         r"outside the bundle's selection .*; --allow-namespace \S+-victim permits it"),
    Case("claimed-provider-namespace", _claimed_provider,
         r"outside the bundle's selection .*; --allow-namespace \S+-victim permits it",
         args=("--skip-provider-check",)),
    # Confinement: namespaces created with Pod Security labels
    Case("pod-security-label-in-manifest", _manifest_namespace("labels", PSA),
         r"pod-security.kubernetes.io/enforce from the manifest.*; "
         r"--allow-pod-security-labels permits it",
         allowed_by=("--allow-pod-security-labels",)),
    Case("pod-security-annotation-in-manifest",
         _manifest_namespace("annotations", "pod-security.kubernetes.io/audit"),
         r"pod-security.kubernetes.io/audit from the manifest.*--allow-pod-security-labels"),
    Case("pod-security-label-on-namespace-object",
         lambda e, ns: _namespace_object(
             ns, {"pod-security.kubernetes.io/warn": "privileged"}, replace_entries=True)(e, ns)
         and f"namespace {ns}",
         r"pod-security.kubernetes.io/warn from its Namespace object.*"
         r"--allow-pod-security-labels"),
    # Confinement: Secrets that grant API access
    Case("service-account-token", lambda e, ns: _secret(e, ns, lambda o: o.update(
        type=SA, metadata={**o["metadata"], "annotations": {
            "kubernetes.io/service-account.name": "default"}})),
         rf"type {SA} grants access to the API server; --allow-secret-type {SA} permits it",
         allowed_by=("--allow-secret-type", SA)),
    Case("bootstrap-token", lambda e, ns: _secret(e, ns, lambda o: o.update(type=BOOTSTRAP)),
         rf"--allow-secret-type {BOOTSTRAP} permits it"),
    Case("identity-secret-as-token", _shared_secret(lambda o: o.update(type=SA)),
         rf"--allow-secret-type {SA} permits it"),
    # Admission: scope from the target's discovery
    Case("cluster-scoped-kind-given-a-namespace", _namespaced_identity,
         r"is cluster-scoped in the target, but the bundle gives it a namespace"),
    Case("namespaced-kind-given-none", _cluster_scoped_aws_cluster,
         r"is namespaced in the target, but the bundle gives it no namespace"),
    # Admission: ownerReferences against the manifest
    Case("owner-not-in-manifest", _owned(_extra_owner),
         r"ownerReferences are not the owners the manifest lists .*Cluster.cluster.x-k8s.io/other"),
    Case("owner-missing-from-object", _owned(lambda o: o["metadata"].pop("ownerReferences")),
         r"ownerReferences are not the owners the manifest lists"),
    Case("owner-references-mapping",
         _owned(lambda o: o["metadata"].update(ownerReferences={"kind": "Cluster"})),
         r"metadata.ownerReferences is a mapping, not a list"),
    Case("owner-reference-without-uid",
         _owned(lambda o: o["metadata"]["ownerReferences"][0].pop("uid")),
         r"ownerReferences\[0\] needs apiVersion, kind, name and uid"),
    Case("owner-reference-controller-string",
         _owned(lambda o: o["metadata"]["ownerReferences"][0].update(controller="yes")),
         r"ownerReferences\[0\].controller is a string, not a boolean"),
    Case("two-controllers", _owned(_second_controller), r"more than one controller"),
    Case("source-uid-twice", _same_uid, r"source UID .* is also"),
    # Admission: ObjectMeta as the API server validates it
    Case("labels-list", _meta(lambda m: m.update(labels=["a", "b"])),
         r"metadata.labels is a list, not a mapping of strings"),
    Case("label-value-number", _meta(lambda m: m.update(labels={"tier": 3})),
         r"metadata.labels\['tier'\] is a number, not a string"),
    Case("label-value-syntax", _meta(lambda m: m.update(labels={"tier": "a b"})),
         r"value 'a b' is not a valid label value"),
    Case("label-value-newline", _meta(lambda m: m.update(labels={"tier": "web\n"})),
         r"value 'web\\n' is not a valid label value"),
    Case("label-key-syntax", _meta(lambda m: m.update(labels={"-bad/key": "v"})),
         r"prefix '-bad' is not a DNS subdomain"),
    Case("annotation-key-syntax", _meta(lambda m: m.update(annotations={"a b": "v"})),
         r"metadata.annotations\['a b'\]: 'a b' is not a qualified name"),
    Case("annotations-nested", _meta(lambda m: m.update(annotations={"note": {"x": 1}})),
         r"metadata.annotations\['note'\] is a mapping, not a string"),
    Case("annotations-over-256k", _meta(lambda m: m.update(annotations={"note": HUGE})),
         r"metadata.annotations total \d+ bytes, over the API server's limit"),
    Case("finalizer-syntax", _meta(lambda m: m.update(finalizers=["a/b/c"])),
         r"metadata.finalizers\[0\]: the key's prefix 'a/b' is not a DNS subdomain"),
    Case("finalizers-string", _meta(lambda m: m.update(finalizers="cluster.x-k8s.io")),
         r"metadata.finalizers is a string, not a list"),
    Case("resource-version", _meta(lambda m: m.update(resourceVersion="42")),
         r"metadata.resourceVersion is set"),
    Case("managed-fields-junk", _meta(lambda m: m.update(managedFields=[{"operation": 7}])),
         r"metadata.managedFields\[0\].operation is 7, not Apply or Update"),
    Case("namespace-name-not-a-label",
         _namespace_object(lambda ns: f"{ns}.victim"),
         r"metadata.name '\S+' is not a DNS label, as a Namespace's name must be"),
    # Admission: shapes of spec and data, and sizes
    Case("spec-list", _spec(["a"]), r"spec is a list, not a mapping"),
    Case("spec-string", _spec("a"), r"spec is a string, not a mapping"),
    Case("object-over-1.5-mib", _spec({"junk": "x" * (1600 * 1024)}),
         r"the object is \d+ bytes; the API server stores at most"),
    Case("secret-data-not-base64",
         lambda e, ns: _secret(e, ns, lambda o: o.update(data={"key": "not base64!"})),
         r"data\['key'\] is not base64"),
    Case("secret-data-list", lambda e, ns: _secret(e, ns, lambda o: o.update(data=["a"])),
         r"data is a list, not a mapping of strings"),
    Case("secret-string-data-number",
         lambda e, ns: _secret(e, ns, lambda o: o.update(stringData={"k": 1})),
         r"stringData\['k'\] is a number, not a string"),
    Case("secret-key-syntax",
         lambda e, ns: _secret(e, ns, lambda o: o.update(data={"a/b": "eA=="})),
         r"data\['a/b'\]: the key is not a valid Secret key"),
    Case("configmap-binary-not-base64", _config_map(lambda ns: ns, binary={"k": "@@"}),
         r"binaryData\['k'\] is not base64"),
    Case("configmap-data-nested", _config_map(lambda ns: ns, data={"k": {"x": "y"}}),
         r"data\['k'\] is a mapping, not a string"),
    Case("configmap-over-1-mib", _config_map(lambda ns: ns, data={"k": "x" * (1100 * 1024)}),
         r"the data is \d+ bytes, over the API server's limit"),
]


def _case_bundle(ground: Ground, name: str, make: Make) -> tuple[Path, str]:
    path = ground.work / "cases" / name
    if path.exists():
        shutil.rmtree(path)
    shutil.copytree(ground.base, path)
    edit = Edit(path)
    named = make(edit, ground.namespace)
    edit.seal()
    return path, named


def _import(path: Path, ground: Ground, *args: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    monkeypatch.setattr(sys, "argv", ["movekit", "import", "--kubeconfig", str(ground.kubeconfig),
                                      "--from-directory", str(path), "--quiet", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return exited.value.code, capsys.readouterr().err


def _writes(ground: Ground) -> int:
    return ground.sim.request_count(write=True) if ground.sim is not None else 0


def present(ground: Ground, path: Path, namespace_map: dict[str, str] | None = None
            ) -> set[ObjectRef]:
    """The objects the bundle's manifest lists (and their namespaces) that the target holds."""
    manifest = json.loads((path / "manifest.json").read_text())
    found = set()
    with KubeClient(ground.kubeconfig) as client:
        namespaces = client.resource("v1", "Namespace")
        assert namespaces is not None
        for entry in manifest["objects"]:
            ref = remap_ref(_ref(entry), namespace_map or {})
            res = client.resource(entry["apiVersion"], ref.kind)
            if res is not None and res.namespaced == bool(ref.namespace) and client.get(
                    res, ref.namespace, ref.name) is not None:
                found.add(ref)
            if ref.namespace and client.get(namespaces, "", ref.namespace) is not None:
                found.add(ObjectRef("", "Namespace", "", ref.namespace))
    return found


def assert_nothing_written(ground: Ground, writes: int, before: set[ObjectRef],
                           after: set[ObjectRef]) -> None:
    """No write request (kubesim); nothing of the bundle new in the target (either lane)."""
    assert _writes(ground) == writes
    assert after == before


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_an_import_beyond_the_selection_or_the_api_servers_rules_is_refused_before_any_write(
        ground: Ground, case: Case, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, named = _case_bundle(ground, case.id, case.make)
    writes, before = _writes(ground), present(ground, path)

    code, stderr = _import(path, ground, *case.args, monkeypatch=monkeypatch, capsys=capsys)

    assert code == PrecheckFailed.exit_code, stderr
    lines = stderr.splitlines()
    assert lines[0].startswith("error: the import plan has "), stderr
    assert all(line.isprintable() for line in lines), stderr
    problems = [line.removeprefix("  - ") for line in lines[1:] if line.startswith("  - ")]
    assert any(line.startswith(named) or named in line for line in problems
               if re.search(case.says, line)), (named, case.says, stderr)
    assert_nothing_written(ground, writes, before, present(ground, path))
    if case.allowed_by:
        code, stderr = _import(path, ground, *case.args, *case.allowed_by, "--dry-run",
                               monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, stderr
        assert _writes(ground) == writes


# --- random shapes -----------------------------------------------------------------------------

# Printable: an object file that YAML cannot hold is refused as an invalid bundle, not planned.
TEXT = st.characters(min_codepoint=0x20, max_codepoint=0xD7FF,
                     blacklist_categories=("Cc", "Cs", "Co"))
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.text(TEXT, max_size=8)
    | st.sampled_from(["", "a b", "-x", "UPPER", "a/b/c", "..", "x" * 70, "bm90IGJhc2U2NA==",
                       "not base64!"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "b/c", "", "x.io/y", "a b", "k" * 70]), inner, max_size=3),
    max_leaves=6,
)
NAMES = st.sampled_from(["ok", "example.com/ok", "", "-bad", "Bad", "a b", "a/b/c", "x" * 64,
                         f"{'d' * 254}/k", "kubernetes.io/service-account.name"])
VALUES = st.one_of(
    JUNK,
    st.dictionaries(NAMES, st.sampled_from(["v", "", "a b", "x" * 64, "-v"]), max_size=3),
    st.lists(NAMES, max_size=3),
    st.builds(lambda n: {"note": "x" * n}, st.sampled_from([10, 200 * 1024, 300 * 1024])),
)
# Where a mutation lands; a path into an object, created as needed.
FIELDS = st.sampled_from([
    ("metadata", "labels"), ("metadata", "annotations"), ("metadata", "finalizers"),
    ("metadata", "ownerReferences"), ("metadata", "generateName"), ("metadata", "managedFields"),
    ("metadata", "creationTimestamp"), ("metadata", "labels", "tier"),
    ("metadata", "annotations", "note"), ("metadata", "ownerReferences", 0, "uid"),
    ("metadata", "ownerReferences", 0, "controller"), ("spec",), ("data",), ("stringData",),
    ("type",), ("immutable",),
])
SECRET_TYPES = st.sampled_from(["Opaque", "kubernetes.io/tls", "kubernetes.io/basic-auth",
                                "kubernetes.io/dockerconfigjson", SA, BOOTSTRAP])


def _set(obj: Doc, path: tuple[str | int, ...], value: Any) -> None:
    here: Any = obj
    for step in path[:-1]:
        if isinstance(here, dict):
            if not isinstance(here.get(step), dict | list):
                here[step] = {}
            here = here[step]
        elif isinstance(here, list) and isinstance(step, int) and step < len(here):
            here = here[step]
        else:
            return  # nothing there to change: the mutation is a no-op
    last = path[-1]
    if isinstance(here, dict) or (isinstance(last, int) and last < len(here)):
        here[last] = value


@settings(max_examples=20, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_a_resealed_random_shape_is_refused_before_any_write_or_imported_in_full(
        ground: Ground, data: st.DataObject, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    mutations = data.draw(st.lists(st.tuples(st.integers(0, 10), FIELDS, VALUES | SECRET_TYPES),
                                   min_size=1, max_size=3))

    def make(e: Edit, ns: str) -> str:
        for index, path, value in mutations:
            entry = e.manifest["objects"][index % len(e.manifest["objects"])]
            obj = e.obj(entry)
            _set(obj, path, value)
            e.put(entry, obj)
        return ""

    ground.made.append(f"{ground.namespace}-h{len(ground.made)}")
    mapping = {ground.namespace: ground.made[-1]}
    path, _ = _case_bundle(ground, "random", make)
    writes, before = _writes(ground), present(ground, path, mapping)

    code, stderr = _import(path, ground, "--namespace-map",
                           f"{ground.namespace}={ground.made[-1]}", "--conflict", "skip",
                           monkeypatch=monkeypatch, capsys=capsys)

    event(f"exit {code}")
    assert "Traceback" not in stderr
    assert code in (0, 3, 4), stderr  # imported, or refused as invalid or by the plan
    after = present(ground, path, mapping)
    if code != 0:
        assert stderr.startswith("error: "), stderr
        assert_nothing_written(ground, writes, before, after)
        return
    manifest = json.loads((path / "manifest.json").read_text())
    assert {remap_ref(_ref(e), mapping) for e in manifest["objects"]} <= after, stderr
