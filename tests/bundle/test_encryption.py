"""Secret values encrypted with age: what the bundle shows, who can open it, and that the age
command-line tool agrees with movekit in both directions."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyrage
import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import Bundle, BundleWriter, Source, manifest_digest, read_bundle
from movekit.bundle.encryption import (
    SecretKeys,
    SecretSealer,
    SecretUnsealer,
    read_identities,
    read_passphrase,
    sealer_for,
    unlock,
)
from movekit.errors import InvalidBundle, PrecheckFailed, UsageError
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.model import Selection
from movekit.refs import ObjectRef
from movekit.sanitize import sanitize, sanitize_crd
from tests.bundle.bundle_samples import (
    CREATED_AT,
    KINDS,
    SECRET_DATA,
    SECRET_FILE,
    SECRET_VALUE,
    crds,
    entries,
    live_objects,
    tree_files,
)
from tests.bundle.bundle_samples import Selection as SampleSelection
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle
from tests.scenarios.commands import movekit

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_REF = ObjectRef("", "Secret", "prod", "c1-ca")


@pytest.fixture(scope="module")
def identity() -> Any:
    return pyrage.x25519.Identity.generate()


@pytest.fixture(scope="module")
def recipient(identity: Any) -> str:
    return str(identity.to_public())


def _identity_file(path: Path, identity: Any) -> Path:
    path.write_text(f"# created: by a test\n# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return path


def _passphrase_file(path: Path, passphrase: str) -> Path:
    path.write_text(passphrase + "\n")
    path.chmod(0o600)
    return path


def _live_secret_with_every_sealed_field() -> dict[str, Any]:
    """The sample Secret plus stringData and the annotation kubectl apply fills with the data."""
    objects = live_objects()
    secret = next(o for o in objects if o["kind"] == "Secret")
    secret["stringData"] = {"token": SECRET_VALUE + "-as-text"}
    secret["metadata"]["annotations"] = {
        LAST_APPLIED: json.dumps({"data": {"tls.key": SECRET_DATA}}), "team": "platform"}
    return secret


def _write_sealed(target: Path, sealer: SecretSealer) -> Bundle:
    """The sample bundle with its Secret (all sealed fields filled in) encrypted by ``sealer``."""
    secret = _live_secret_with_every_sealed_field()
    objects = [secret if o["kind"] == "Secret" else o for o in live_objects()]
    with BundleWriter(target) as writer:
        for entry, obj in zip(entries(), objects, strict=True):
            writer.add_object(entry, sealer.seal(sanitize(obj)))
        for definition in crds():
            writer.add_crd(sanitize_crd(definition))
        writer.close(source=Source("https://api.example:6443", "v1.31.0"),
                     selection=SampleSelection("prod"), kinds=KINDS, created_at=CREATED_AT,
                     encryption=sealer.manifest_record())
    return read_bundle(target)


def _expected_secret() -> dict[str, Any]:
    return sanitize(_live_secret_with_every_sealed_field())


# -- the bundle as a reviewer sees it --------------------------------------------------------


def test_an_encrypted_bundle_shows_key_names_and_metadata_but_no_secret_value(
    tmp_path: Path, recipient: str
) -> None:
    bundle = _write_sealed(tmp_path / "b", SecretSealer([recipient]))

    files = tree_files(tmp_path / "b")
    for name, data in files.items():
        assert SECRET_VALUE.encode() not in data, name
        assert SECRET_DATA.encode() not in data, name
        assert b"AGE-SECRET-KEY-" not in data, name
    stored = bundle.load(bundle.entry(SECRET_REF))  # type: ignore[arg-type]
    assert set(stored["data"]) == {"tls.key"} and set(stored["stringData"]) == {"token"}
    assert all(v.startswith("age:") for v in [*stored["data"].values(),
                                              *stored["stringData"].values()])
    assert stored["metadata"]["annotations"]["team"] == "platform"
    assert stored["metadata"]["annotations"][LAST_APPLIED].startswith("age:")
    assert stored["metadata"]["labels"] == {"cluster.x-k8s.io/cluster-name": "c1"}
    assert bundle.manifest["encryption"] == {"scheme": "age", "recipients": [recipient],
                                             "passphrase": False, "passphraseIdentity": None}


def test_an_encrypted_bundle_verifies_without_any_key_over_the_files_as_written(
    tmp_path: Path, recipient: str
) -> None:
    _write_sealed(tmp_path / "b", SecretSealer([recipient]))

    bundle = read_bundle(tmp_path / "b")

    entry = bundle.entry(SECRET_REF)
    assert entry is not None and entry.file == SECRET_FILE
    assert hashlib.sha256((tmp_path / "b" / SECRET_FILE).read_bytes()).hexdigest() == entry.sha256


def test_two_encrypted_exports_of_the_same_objects_differ_but_each_verifies(
    tmp_path: Path, recipient: str
) -> None:
    # age draws a fresh file key per message: only plain bundles are byte-for-byte repeatable.
    first = _write_sealed(tmp_path / "one", SecretSealer([recipient]))
    second = _write_sealed(tmp_path / "two", SecretSealer([recipient]))

    assert first.digest != second.digest
    assert (tmp_path / "one" / SECRET_FILE).read_bytes() != \
        (tmp_path / "two" / SECRET_FILE).read_bytes()


# -- who can open it -------------------------------------------------------------------------


def test_an_identity_of_a_recipient_decrypts_every_value_exactly(
    tmp_path: Path, identity: Any, recipient: str
) -> None:
    other = pyrage.x25519.Identity.generate()
    bundle = _write_sealed(tmp_path / "b", SecretSealer([str(other.to_public()), recipient]))

    unlock(bundle, SecretKeys(identity_files=(_identity_file(tmp_path / "key.txt", identity),)))

    assert bundle.load(bundle.entry(SECRET_REF)) == _expected_secret()  # type: ignore[arg-type]


def test_a_passphrase_decrypts_every_value_exactly_as_does_a_recipient_beside_it(
    tmp_path: Path, identity: Any, recipient: str
) -> None:
    bundle_path = tmp_path / "b"
    _write_sealed(bundle_path, SecretSealer([recipient], passphrase="correct horse"))
    passphrase = _passphrase_file(tmp_path / "pass", "correct horse")
    key = _identity_file(tmp_path / "key.txt", identity)

    for keys in (SecretKeys(passphrase_file=passphrase), SecretKeys(identity_files=(key,))):
        bundle = read_bundle(bundle_path)
        unlock(bundle, keys)
        assert bundle.load(bundle.entry(SECRET_REF)) == _expected_secret()  # type: ignore[arg-type]
    record = read_bundle(bundle_path).manifest["encryption"]
    assert record["passphrase"] is True and record["recipients"] == [recipient]
    assert record["passphraseIdentity"].startswith("-----BEGIN AGE ENCRYPTED FILE-----")


@pytest.mark.parametrize("keys", ["none", "wrong identity", "wrong passphrase"])
def test_a_bundle_is_refused_without_the_right_key_naming_the_secret_not_its_value(
    keys: str, tmp_path: Path, recipient: str
) -> None:
    bundle = _write_sealed(tmp_path / "b", SecretSealer([recipient], passphrase="right"))
    given = {
        "none": SecretKeys(),
        "wrong identity": SecretKeys(identity_files=(
            _identity_file(tmp_path / "k", pyrage.x25519.Identity.generate()),)),
        "wrong passphrase": SecretKeys(passphrase_file=_passphrase_file(tmp_path / "p", "wrong")),
    }[keys]

    with pytest.raises(PrecheckFailed) as refused:
        unlock(bundle, given)

    message = str(refused.value)
    assert "\n" not in message and SECRET_VALUE not in message and SECRET_DATA not in message
    expected = {"none": "pass --identity FILE or --passphrase-file FILE",
                "wrong identity": f"{SECRET_REF}: data.tls.key cannot be decrypted",
                "wrong passphrase": "the passphrase does not open"}[keys]
    assert expected in message


def test_a_plain_value_in_a_bundle_marked_encrypted_is_refused(
    tmp_path: Path, identity: Any, recipient: str
) -> None:
    sealer = SecretSealer([recipient])
    tampered = sealer.seal(sanitize(_live_secret_with_every_sealed_field()))
    tampered["data"]["tls.key"] = SECRET_DATA
    entry = next(e for e in entries() if e.ref == SECRET_REF)

    with pytest.raises(PrecheckFailed, match=r"data\.tls\.key \(not an age: value\)"):
        SecretUnsealer(sealer.manifest_record(), [identity]).unseal(entry, tampered)


def test_a_manifest_that_claims_a_passphrase_without_its_wrapped_identity_is_invalid(
    tmp_path: Path, recipient: str
) -> None:
    _write_sealed(tmp_path / "b", SecretSealer([recipient]))
    manifest = tmp_path / "b" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["encryption"]["passphrase"] = True
    doc["digest"] = manifest_digest(doc)
    manifest.write_text(json.dumps(doc))

    with pytest.raises(InvalidBundle, match="encryption"):
        read_bundle(tmp_path / "b")


# -- key files and flags ---------------------------------------------------------------------


def test_identity_file_comments_are_skipped_and_a_bad_line_is_named_without_its_content(
    tmp_path: Path, identity: Any
) -> None:
    good = _identity_file(tmp_path / "good", identity)
    bad = tmp_path / "bad"
    bad.write_text(f"# a comment\n{identity}\nAGE-SECRET-KEY-1NOTAKEY\n")

    assert [str(i) for i in read_identities(good)] == [str(identity)]
    with pytest.raises(UsageError) as refused:
        read_identities(bad)
    assert "line 3 is not an age identity" in str(refused.value)
    assert "NOTAKEY" not in str(refused.value)


def test_passphrase_file_gives_its_first_line_without_the_line_ending(tmp_path: Path) -> None:
    path = tmp_path / "pass"
    path.write_bytes(b"  spaced pass phrase \r\nsecond line\n")

    assert read_passphrase(path) == "  spaced pass phrase "


def test_a_recipient_that_is_not_an_age_public_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not an age X25519 recipient"):
        sealer_for(["ssh-ed25519 AAAAC3Nza"], None)


# -- end to end, through kubesim (or real clusters) ------------------------------------------


def _secrets(env: Env, namespace: str) -> dict[str, dict[str, Any]]:
    with env.client() as client:
        res = client.resource("v1", "Secret")
        assert res is not None
        return {s["metadata"]["name"]: s.get("data") or {} for s in client.list(res, namespace)}


def _export_encrypted(src: Env, namespace: str, target: Path, recipient: str) -> None:
    topology = TOPOLOGIES["kcp-with-machines"]
    src.seed(topology, namespace=namespace)
    with src.client() as client:
        export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(topology.clusters)),
            target=target, encrypt_to=(recipient,), leave_paused=True))


def test_export_encrypt_to_then_import_identity_recreates_the_source_secrets(
    src: Env, dst: Env, namespace: str, tmp_path: Path, identity: Any, recipient: str
) -> None:
    _export_encrypted(src, namespace, tmp_path / "b.tar.zst", recipient)
    keys = SecretKeys(identity_files=(_identity_file(tmp_path / "key.txt", identity),))

    with dst.client() as client:
        result = import_bundle(client, tmp_path / "b.tar.zst", ImportOptions(keys=keys))

    assert result.outcome is not None and not result.outcome.failures
    moved = {e.ref.name for e in result.bundle.entries if e.ref.kind == "Secret"}
    source = _secrets(src, namespace)
    assert moved and {n: _secrets(dst, namespace)[n] for n in moved} == \
        {n: source[n] for n in moved}
    with dst.client() as client:
        assert_target_holds_bundle(client, result.bundle)


@pytest.mark.parametrize("wrong", ["no key", "another identity"])
def test_import_without_the_right_identity_is_refused_before_any_request_to_the_target(
    wrong: str, src: Env, dst: Env, namespace: str, tmp_path: Path, recipient: str
) -> None:
    _export_encrypted(src, namespace, tmp_path / "b", recipient)
    keys = SecretKeys() if wrong == "no key" else SecretKeys(identity_files=(
        _identity_file(tmp_path / "other.txt", pyrage.x25519.Identity.generate()),))
    requests = dst.sim.request_count() if dst.sim else 0

    with dst.client() as client, pytest.raises(PrecheckFailed) as refused:
        import_bundle(client, tmp_path / "b", ImportOptions(keys=keys))

    if wrong == "another identity":
        assert str(refused.value).startswith(f"Secret/{namespace}/")
    if dst.sim:
        assert dst.sim.request_count() == requests
    with dst.client() as client:
        ns = client.resource("v1", "Namespace")
        assert ns is not None and client.get(ns, "", namespace) is None


def test_the_cli_encrypts_verifies_and_inspects_without_keys_and_imports_with_one(
    src: Env, dst: Env, namespace: str, tmp_path: Path, identity: Any, recipient: str
) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    key = _identity_file(tmp_path / "key.txt", identity)
    key_before = key.stat()
    bundle = tmp_path / "bundle"

    runs = [movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--leave-paused",
                    "--to-directory", bundle, "--encrypt-to", recipient, umask=0)]
    runs += [movekit("verify", bundle), movekit("inspect", bundle)]
    locked = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", bundle)
    runs += [locked, movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", bundle,
                             "--identity", key)]

    export, verify, inspect, _, imported = runs
    assert export.returncode == 0, export.stderr
    assert "Secret values are encrypted with age" in export.stdout
    assert "Secret values are encrypted with age" in verify.stdout, verify.stderr
    assert "verified without decrypting" in verify.stdout
    assert "Secret values are encrypted with age" in inspect.stdout, inspect.stderr
    assert locked.returncode == PrecheckFailed.exit_code
    assert "--identity" in locked.stderr and "nothing was written" in locked.stderr
    assert imported.returncode == 0, imported.stderr
    assert _secrets(dst, namespace) == {n: d for n, d in _secrets(src, namespace).items()
                                        if n in _secrets(dst, namespace)}
    source_values = [v for d in _secrets(src, namespace).values() for v in d.values()]
    for run in runs:
        for value in source_values:
            assert value not in run.stdout + run.stderr, run.args
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)
               for p in [bundle, *bundle.rglob("*")])
    after = key.stat()
    assert (after.st_mode, after.st_mtime_ns) == (key_before.st_mode, key_before.st_mtime_ns)


# -- the age command-line tool agrees ---------------------------------------------------------


@pytest.fixture
def age_key(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A key made by age-keygen, and its public key; skips where the age tools are absent."""
    if shutil.which("age") is None or shutil.which("age-keygen") is None:
        pytest.skip("the age command-line tool is not installed (Debian package age)")
    key = tmp_path / "age-key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                            text=True).stdout.strip()
    yield key, public


def test_the_age_cli_decrypts_a_value_movekit_encrypted(age_key: tuple[Path, str]) -> None:
    key, public = age_key
    sealed = SecretSealer([public]).seal(sanitize(_live_secret_with_every_sealed_field()))
    message = base64.b64decode(sealed["data"]["tls.key"].removeprefix("age:"))

    opened = subprocess.run(["age", "-d", "-i", str(key)], input=message, check=True,
                            capture_output=True)

    assert opened.stdout == SECRET_VALUE.encode()


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_movekit_decrypts_a_value_the_age_cli_encrypted(
    armor: bool, age_key: tuple[Path, str]
) -> None:
    key, public = age_key
    command = ["age", "-e", "-r", public, *(["-a"] if armor else [])]
    message = subprocess.run(command, input=SECRET_VALUE.encode(), check=True,
                             capture_output=True).stdout
    secret = sanitize(_live_secret_with_every_sealed_field())
    secret.pop("stringData")
    secret["metadata"].pop("annotations")
    secret["data"] = {"tls.key": "age:" + base64.b64encode(message).decode()}
    record = {"scheme": "age", "recipients": [public], "passphrase": False,
              "passphraseIdentity": None}
    entry = next(e for e in entries() if e.ref == SECRET_REF)

    opened = SecretUnsealer(record, read_identities(key)).unseal(entry, secret)

    assert opened["data"] == {"tls.key": SECRET_DATA}


def test_an_age_keygen_identity_file_opens_a_movekit_export(
    tmp_path: Path, age_key: tuple[Path, str]
) -> None:
    key, public = age_key
    bundle = _write_sealed(tmp_path / "b", SecretSealer([public]))

    unlock(bundle, SecretKeys(identity_files=(key,)))

    assert bundle.load(bundle.entry(SECRET_REF)) == _expected_secret()  # type: ignore[arg-type]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
