"""Secret values and kubeconfig credentials never show: not in output, errors, plans,
manifests or journals; and whatever movekit writes is private to its user, whatever the umask.

A known value is planted in a Secret that moves, and the clusters are reached with known bearer
tokens; every command then runs as a user runs it (a child process, here under umask 000), and
every output and written file is searched for the value, plain and base64-encoded. Only the
bundle's object files may hold Secret data; no file may hold a credential. Failed assertions
name where a value was found, never the value.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import stat
import tarfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
import zstandard
from kubernetes import client as k8s_client

from kubesim.capi.topologies import TOPOLOGIES, seed
from tests.lanes import Env
from tests.scenarios.commands import movekit

PLANTED = "mk-planted-crown-jewel-5d7a0c9e41b8f3a6"
PLANTED_SECRET = "c1-ca"
SOURCE_TOKEN = "mk-source-bearer-2b9e7c41d05f8a36"
TARGET_TOKEN = "mk-target-bearer-8f14a6d3c27e905b"
UNKNOWN_TOKEN = "mk-unknown-bearer-40c7e2f9b18d6a53"
READER_TOKEN = "mk-reader-bearer-6e03b8d2a9f71c45"
SERVER_PASSWORD = "mk-server-password-93a5f0e7c1d2b846"


def _forms(value: str) -> list[bytes]:
    """The value as text, and as base64 at each of the three alignments it may take."""
    raw = value.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # Drop the characters that also encode the neighbouring bytes.
        forms.append(encoded[4 if shift else 0:-4])
    return forms


def _holds(data: str | bytes, values: Iterable[str]) -> bool:
    blob = data.encode() if isinstance(data, str) else data
    return any(form in blob for value in values for form in _forms(value))


def _files(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir():
        yield from sorted(root.rglob("*"))


def _not_private(paths: Iterable[Path]) -> list[str]:
    """Every written path whose mode is not 0700 (directories) or 0600 (files)."""
    wrong = []
    for top in paths:
        for path in _files(top):
            info = path.lstat()
            want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if stat.S_IMODE(info.st_mode) != want:
                wrong.append(f"{path}: {stat.S_IMODE(info.st_mode):04o}")
    return wrong


def _archive_members(archive: Path) -> dict[str, bytes]:
    with archive.open("rb") as compressed:
        raw = zstandard.ZstdDecompressor().stream_reader(compressed).read()
    members = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            if handle is not None:
                members[member.name] = handle.read()
    return members


def _credentials(kubeconfig: Path) -> list[str]:
    """What in a kubeconfig lets one act as its user, the server's URL included."""
    document = yaml.safe_load(kubeconfig.read_text())
    found = []
    for user in document.get("users") or []:
        for key in ("token", "password", "client-key-data"):
            value = (user.get("user") or {}).get(key)
            if value:
                found.append(str(value))
    for cluster in document.get("clusters") or []:
        password = urlsplit(str((cluster.get("cluster") or {}).get("server"))).password
        if password:
            found.append(password)
    return found


@functools.cache
def _verbosity_flags() -> tuple[str, ...]:
    """Every verbosity the CLI offers beyond the default and --quiet."""
    helptext = movekit("export", "--help").stdout
    return ("-v", "-vv") if "--verbose" in helptext else ()


def _choices(*args: str | Path) -> list[str]:
    """Every value an option takes, as the CLI lists them when given one it does not take."""
    refused = movekit(*args).stderr
    found = re.search(r"is not one of ((?:'[\w-]+'(?:, )?)+)", refused)
    assert found, f"{args}: no list of choices in the error"
    return re.findall(r"'([\w-]+)'", found.group(1))


Run = tuple[str, tuple[str | Path, ...]]  # a label for failure messages, and the arguments


@dataclass
class Session:
    """Two clusters reached with known credentials, a Secret with a planted value, and every
    output the commands of one test produced (kept out of reprs: it may hold what leaked)."""

    src: Env
    dst: Env
    namespace: str
    work: Path
    source_kubeconfig: Path
    target_kubeconfig: Path
    outputs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def credentials(self) -> list[str]:
        return _credentials(self.source_kubeconfig) + _credentials(self.target_kubeconfig)

    @property
    def secrets(self) -> list[str]:
        return [PLANTED, UNKNOWN_TOKEN, READER_TOKEN, *self.credentials]

    def run(self, label: str, *args: str | Path) -> int:
        """The exit code; the output is only ever searched, never shown."""
        completed = movekit(*args, umask=0, cwd=self.work)
        self.outputs[f"{label}: stdout"] = completed.stdout
        self.outputs[f"{label}: stderr"] = completed.stderr
        return completed.returncode

    def ok(self, *runs: Run) -> None:
        """Run concurrently (each must only read, or write a place of its own); all succeed."""
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            codes = list(pool.map(lambda run: self.run(run[0], *run[1]), runs))
        failed = [f"{label}: exit {code}" for (label, _), code in zip(runs, codes, strict=True)
                  if code != 0]
        assert not failed, failed

    def export(self, label: str, *args: str | Path) -> Run:
        return label, ("export", "--kubeconfig", self.source_kubeconfig, "-n", self.namespace,
                       *args)

    def assert_outputs_clean(self) -> None:
        leaked = sorted(label for label, text in self.outputs.items()
                        if _holds(text, self.secrets))
        assert not leaked, f"a secret value or credential shows in: {leaked}"

    def assert_bundle_clean(self, bundle: Path) -> None:
        """Only the Secret's object file holds its data; no file holds a credential."""
        files = ({str(p.relative_to(bundle)): p.read_bytes() for p in _files(bundle)
                  if p.is_file()} if bundle.is_dir() else _archive_members(bundle))
        holding = sorted(name for name, data in files.items() if _holds(data, [PLANTED]))
        assert holding == [f"objects/core/Secret/{self.namespace}/{PLANTED_SECRET}.yaml"], \
            f"the planted Secret data is in: {holding}"
        with_credentials = sorted(name for name, data in files.items()
                                  if _holds(data, [UNKNOWN_TOKEN, READER_TOKEN,
                                                   *self.credentials]))
        assert not with_credentials, f"a credential is in: {with_credentials}"

    def assert_journal_clean(self, journal: Path) -> None:
        assert not _holds(journal.read_bytes(), self.secrets), f"{journal} holds a secret"
        bundle = Path(json.loads(journal.read_text())["bundle"]["path"])
        self.assert_bundle_clean(bundle)


def _planted_kubeconfig(env: Env, path: Path, token: str) -> Path:
    """A kubeconfig with a known bearer token, and a password in the server's URL (kubesim);
    on a real cluster, the one given."""
    if env.sim is None:
        return env.kubeconfig
    env.sim.add_token(token, None, "mover")
    document = env.sim.kubeconfig(token=token)
    server = document["clusters"][0]["cluster"]["server"]
    document["clusters"][0]["cluster"]["server"] = server.replace(
        "://", f"://mover:{SERVER_PASSWORD}@", 1)
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


def _plant(env: Env, namespace: str, topology: str) -> None:
    seed(env.api, TOPOLOGIES[topology], namespace=namespace)
    encoded = base64.b64encode(PLANTED.encode()).decode()
    k8s_client.CoreV1Api(env.api).patch_namespaced_secret(
        PLANTED_SECRET, namespace, {"data": {"planted": encoded}})


@pytest.fixture
def session(src: Env, dst: Env, namespace: str, tmp_path: Path) -> Session:
    work = tmp_path / "work"
    work.mkdir()
    _plant(src, namespace, "two-machines")
    return Session(src, dst, namespace, work,
                   _planted_kubeconfig(src, tmp_path / "source-mover.yaml", SOURCE_TOKEN),
                   _planted_kubeconfig(dst, tmp_path / "target-mover.yaml", TARGET_TOKEN))


def test_export_verify_inspect_import_and_the_air_gap_steps_never_show_secret_values(
    session: Session,
) -> None:
    work, dst = session.work, session.target_kubeconfig
    bundle = ("--from-directory", work / "bundle")
    # Imported although its export left the source running: the air-gap steps follow.
    active = "--allow-active-source"
    session.ok(session.export("export", "--to-directory", work / "bundle"))
    for flag in _verbosity_flags():
        session.ok(session.export(f"export {flag}", flag, "--to-directory", work / f"b{flag}"))
    outputs = _choices("verify", work / "bundle", "--output", "?")
    session.ok(
        session.export("export --no-pause --quiet", "--no-pause", "--quiet",
                       "--to-archive", work / "bundle.tar.zst"),
        *[session.export(f"export --dry-run -o {output}", "--dry-run", "--output", output)
          for output in outputs],
    )
    session.ok(
        ("verify archive", ("verify", work / "bundle.tar.zst")),
        *[(f"verify -o {output}", ("verify", work / "bundle", "--output", output))
          for output in outputs],
        *[(f"inspect --format {format}", ("inspect", work / "bundle", "--format", format))
          for format in _choices("inspect", work / "bundle", "--format", "?")],
        *[(f"import --dry-run -o {output}", ("import", "--kubeconfig", dst, *bundle, active,
                                             "--dry-run", "--output", output))
          for output in outputs],
    )
    session.ok(("import", ("import", "--kubeconfig", dst, *bundle, active)))
    session.ok(session.export("export --leave-paused", "--leave-paused",
                              "--to-directory", work / "paused"))
    session.ok(("resume-source", ("resume-source", "--kubeconfig", session.source_kubeconfig,
                                  "--from-directory", work / "paused")))
    session.ok(("retire", ("retire", "--kubeconfig", session.source_kubeconfig, *bundle,
                           "--force", "--yes")))

    session.assert_outputs_clean()
    written = [work / "bundle", work / "bundle.tar.zst", work / "paused",
               *(work / f"b{flag}" for flag in _verbosity_flags())]
    for path in written:
        session.assert_bundle_clean(path)
    assert not _not_private(written)
    assert sorted(work.iterdir()) == sorted(written)


def test_move_and_its_journal_never_hold_secret_values_or_credentials(session: Session) -> None:
    work = session.work
    journal = work / "move.journal.json"
    clusters = ("--kubeconfig", session.source_kubeconfig,
                "--to-kubeconfig", session.target_kubeconfig, "-n", session.namespace)
    session.ok(("move --dry-run", ("move", *clusters, "--dry-run")))
    session.ok(("move", ("move", *clusters, "--journal", journal, *_verbosity_flags()[-1:])))

    session.assert_outputs_clean()
    session.assert_journal_clean(journal)
    bundle = Path(json.loads(journal.read_text())["bundle"]["path"])
    assert not _not_private([journal, bundle])
    assert sorted(work.iterdir()) == sorted([journal, bundle])


def test_failing_runs_never_show_secret_values_or_credentials(
    session: Session, tmp_path: Path
) -> None:
    why = "injects failures into both servers"
    source, target = session.src.require_sim(why), session.dst.require_sim(why)
    work = session.work
    to_target = ("--kubeconfig", session.source_kubeconfig,
                 "--to-kubeconfig", session.target_kubeconfig)
    session.ok(session.export("export", "--to-directory", work / "bundle"))
    target.controls.admission(
        lambda verb, obj: "Secrets are not accepted here" if obj.get("kind") == "Secret" else None)
    rolled_back = session.run("move denied by a webhook", "move", *to_target,
                              "-n", session.namespace, "--journal", work / "denied.journal.json")
    denied = [session.run(f"import denied by a webhook {' '.join(flags)}", "import",
                          "--kubeconfig", session.target_kubeconfig,
                          "--from-directory", work / "bundle", "--allow-active-source", *flags)
              for flags in ([], ["--output", "json"])]
    target.controls.admission(None)
    assert (rolled_back, denied) == (7, [7, 7])

    _plant(session.src, "unready", "not-provisioned")
    with ThreadPoolExecutor() as pool:
        unready = list(pool.map(
            lambda flags: session.run(f"export of unprovisioned clusters {' '.join(flags)}",
                                      "export", "--kubeconfig", session.source_kubeconfig,
                                      "-n", "unready", "--to-directory", work / "unready",
                                      *flags),
            [[], ["--output", "json"], ["-vv"]]))
    assert unready == [4, 4, 4]

    source.add_token(READER_TOKEN, [], "nobody")
    forbidden = source.write_kubeconfig(tmp_path / "forbidden.yaml", token=READER_TOKEN)
    unknown = source.write_kubeconfig(tmp_path / "unknown.yaml", token=UNKNOWN_TOKEN)
    unreachable = tmp_path / "unreachable.yaml"
    document = yaml.safe_load(unknown.read_text())
    document["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"
    unreachable.write_text(yaml.safe_dump(document))
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text(unknown.read_text().replace(f"token: {UNKNOWN_TOKEN}",
                                                     f"token: [{UNKNOWN_TOKEN}: {{"))
    cases = {"a 403": (forbidden, 6), "an unknown token": (unknown, 6),
             "an unreachable server": (unreachable, 5), "a malformed kubeconfig": (malformed, 2)}
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        codes = dict(zip(cases, pool.map(
            lambda label: session.run(f"export with {label}", "export", "--kubeconfig",
                                      cases[label][0], "-n", session.namespace,
                                      "--to-directory", work / "never",
                                      *_verbosity_flags()[-1:]), cases), strict=True))
    assert codes == {label: code for label, (_, code) in cases.items()}

    session.assert_outputs_clean()
    session.assert_journal_clean(work / "denied.journal.json")
    written = [work / "bundle", work / "denied.journal.json", work / "denied.journal.bundle"]
    assert not _not_private(written)
    assert sorted(work.iterdir()) == sorted(written)
