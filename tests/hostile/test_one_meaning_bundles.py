"""Correctly sealed bundles (checksums and digest recomputed) whose files a reviewer would read
differently from what an import would create, or that hold more values than a bundle may:
``verify``, ``inspect`` and ``import`` each refuse them with exit 3 and one line naming the file
and line, and the import sends no request. clusterctl directories are held to the same rules."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubesim import KubeSim
from movekit import cli
from movekit.bundle import layout
from movekit.bundle import manifest as manifest_module
from movekit.bundle.clusterctl import clusterctl_file_name, go_json, write_clusterctl_directory
from movekit.errors import InvalidBundle
from movekit.refs import ObjectRef
from tests.bundle.bundle_samples import (
    CLUSTER_FILE,
    CONFIGMAP_FILE,
    SECRET_DATA,
    SECRET_FILE,
    SECRET_VALUE,
    live_objects,
    pack,
    snapshot,
    tamper,
    write_sample,
)


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], None]  # changes the sample bundle directory
    where: str
    problem: str  # a regular expression the rest of the line must match
    limits: tuple[tuple[str, int], ...] = ()


def _file(name: str, edit: Callable[[str], str]) -> Callable[[Path], None]:
    def make(bundle: Path) -> None:
        tamper(bundle, files={name: edit((bundle / name).read_text()).encode()})
    return make


def _add_data(line: str) -> Callable[[str], str]:
    """The ConfigMap with one more line in its data (data is its first top-level key)."""
    def edit(text: str) -> str:
        assert text.startswith("apiVersion: v1\ndata:\n"), text[:40]
        return text.replace("data:\n", f"data:\n  {line}\n", 1)
    return edit


def _manifest_text(old: str, new: str) -> Callable[[Path], None]:
    def make(bundle: Path) -> None:
        text = (bundle / "manifest.json").read_text()
        assert old in text
        tamper(bundle, files={"manifest.json": text.replace(old, new, 1).encode()})
    return make


def _configmap_case(case_id: str, line: str, problem: str) -> Case:
    # The inserted line is line 3 of the file: apiVersion, data, then it.
    return Case(case_id, _file(CONFIGMAP_FILE, _add_data(line)), CONFIGMAP_FILE,
                r"(the unquoted (value|key)|[a-z ]+) .*at line 3\b.*" + problem)


CASES = [
    _configmap_case("yaml11-boolean-value", "enabled2: yes", "boolean to YAML 1.1"),
    _configmap_case("go-boolean-value", "short2: n", "other YAML readers"),
    _configmap_case("boolean-key", "on: x", "boolean to YAML 1.1"),
    _configmap_case("true-key-colliding-with-yes", "true: x", "a boolean, not a string"),
    _configmap_case("integer-key", "1: x", "an integer, not a string"),
    _configmap_case("null-key", "~: x", "null, not a string"),
    _configmap_case("merge-key", "<<: {mode: x}", "merge key"),
    _configmap_case("octal-value", "mode2: 0755", "integer not written as JSON"),
    _configmap_case("hex-value", "mode2: 0x1F", "integer not written as JSON"),
    _configmap_case("sexagesimal-value", "mode2: 1:20", "integer not written as JSON"),
    _configmap_case("nan-value", "ratio: .NaN", "infinity or NaN"),
    _configmap_case("infinite-value", "ratio: -.inf", "infinity or NaN"),
    _configmap_case("float-too-long", "ratio: 0.1000000000000000055511151231257827",
                    "cannot hold exactly"),
    _configmap_case("integer-beyond-64-bits", "count: 18446744073709551616", "beyond 64 bits"),
    _configmap_case("plain-timestamp", "when: 2001-12-14t21:59:43.10-05:00", "date"),
    _configmap_case("exponent-without-dot", "big2: 1e3", "other YAML readers"),
    Case("quoted-and-plain-duplicate", _file(CONFIGMAP_FILE, _add_data("'mode': x")),
         CONFIGMAP_FILE, "duplicate key 'mode' at line 12, column 3"),
    Case("tab-indentation", _file(CONFIGMAP_FILE, _add_data("tab:\tx")), CONFIGMAP_FILE,
         "a tab at line 3"),
    Case("line-separator", _file(CONFIGMAP_FILE, _add_data("ls: a\u2028b")), CONFIGMAP_FILE,
         r"a line separator \(U\+2028\) at line 3"),
    Case("crlf", _file(SECRET_FILE, lambda text: text.replace("\n", "\r\n")), SECRET_FILE,
         "a carriage return at line 1"),
    Case("byte-order-mark", _file(SECRET_FILE, lambda text: "\ufeff" + text), SECRET_FILE,
         "a byte-order mark"),
    Case("yaml-1.1-directive", _file(SECRET_FILE, lambda text: "%YAML 1.1\n---\n" + text),
         SECRET_FILE, "YAML directive at line 1"),
    Case("manifest-infinite-number", _manifest_text('"wave": 1', '"wave": 1e400'),
         "manifest.json", r"the number at line \d+, column \d+ is infinity"),
    Case("manifest-wide-integer", _manifest_text('"wave": 1', '"wave": 100000000000000000000'),
         "manifest.json", r"the number at line \d+, column \d+ is an integer beyond 64 bits"),
    Case("manifest-over-value-limit", lambda bundle: None, "manifest.json",
         "holds more than 150 JSON values", (("MAX_MANIFEST_VALUES", 150),)),
    Case("file-over-value-limit", lambda bundle: None, CLUSTER_FILE,
         "holds more than 20 YAML nodes", (("MAX_FILE_VALUES", 20),)),
    Case("bundle-over-value-limit", lambda bundle: None, CONFIGMAP_FILE,
         "the bundle's files hold more than 100 YAML nodes in all",
         (("MAX_BUNDLE_VALUES", 100),)),
]


@dataclass
class World:
    paths: dict[tuple[str, str], Path]
    kubeconfig: Path
    sim: KubeSim
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("one-meaning")
    paths = {}
    for case in CASES:
        (root / case.id).mkdir()
        directory = root / case.id / "bundle"
        write_sample(directory)
        case.make(directory)
        paths[(case.id, "directory")] = directory
        paths[(case.id, "archive")] = pack(directory, root / case.id / "bundle.tar.zst")
    with KubeSim() as sim:
        yield World(paths, sim.write_kubeconfig(root / "target.kubeconfig"), sim, root)


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    monkeypatch.setattr(sys, "argv", ["movekit", *argv])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def assert_one_line_refusal(path: Path, where: str, problem: str, code: object, out: str,
                            err: str) -> None:
    assert code == InvalidBundle.exit_code, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].isprintable(), repr(lines[0])
    prefix = f"error: {path}: {where}: "
    assert lines[0].startswith(prefix), (prefix, lines[0])
    assert re.search(problem, lines[0][len(prefix):]), lines[0]
    for output in (out, err):
        assert SECRET_VALUE not in output and SECRET_DATA not in output


@pytest.mark.parametrize("verb", ["verify", "inspect", "import"])
@pytest.mark.parametrize("form", ["directory", "archive"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_sealed_bundle_read_two_ways_is_refused_by_every_command_with_its_line(
        world: World, case: Case, form: str, verb: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in case.limits:
        for module in (layout, manifest_module):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    path = world.paths[(case.id, form)]
    argv = {"verify": ["verify", str(path)], "inspect": ["inspect", str(path)],
            "import": ["import", "--kubeconfig", str(world.kubeconfig),
                       "--from-directory" if form == "directory" else "--from-archive",
                       str(path), "--quiet"]}[verb]
    before = snapshot(world.root)

    code, out, err = run(argv, monkeypatch, capsys)

    assert_one_line_refusal(path, case.where, case.problem, code, out, err)
    assert world.sim.request_log == []
    assert snapshot(world.root) == before


# --- clusterctl directories --------------------------------------------------------------------

def _secret_file() -> tuple[str, dict[str, object]]:
    secret = next(obj for obj in live_objects() if obj["kind"] == "Secret")
    return clusterctl_file_name(ObjectRef.of(secret)), secret


CLUSTERCTL_CASES = [
    ("yaml-boolean", lambda obj: layout.dump_yaml(obj) + b"extra: on\n",
     r"the unquoted value at line \d+, column 8 is a boolean to YAML 1.1"),
    ("yaml-integer-key", lambda obj: layout.dump_yaml(obj) + b"1: x\n",
     r"the unquoted key '1' at line \d+, column 1 is an integer"),
    ("yaml-tab", lambda obj: layout.dump_yaml(obj) + b"extra:\tx\n", r"a tab at line \d+"),
    ("json-infinite", lambda obj: go_json(obj).replace(b'"type":', b'"n":1e999,"type":'),
     r"the number at line 1, column \d+ is infinity"),
    ("json-wide-integer", lambda obj: go_json(obj).replace(b'"type":',
                                                           b'"n":-99999999999999999999,"type":'),
     r"the number at line 1, column \d+ is an integer beyond 64 bits"),
]


@pytest.mark.parametrize("verb", ["verify", "inspect", "import"])
@pytest.mark.parametrize(("case_id", "content", "problem"), CLUSTERCTL_CASES,
                         ids=[case[0] for case in CLUSTERCTL_CASES])
def test_a_clusterctl_file_read_two_ways_is_refused_before_any_request(
        world: World, tmp_path: Path, case_id: str,
        content: Callable[[dict[str, object]], bytes], problem: str, verb: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "moved"
    write_clusterctl_directory(directory, live_objects())
    name, secret = _secret_file()
    (directory / name).write_bytes(content(json.loads(json.dumps(secret))))
    argv = {"verify": ["verify", str(directory)], "inspect": ["inspect", str(directory)],
            "import": ["import", "--kubeconfig", str(world.kubeconfig), "--from-directory",
                       str(directory), "--quiet"]}[verb]

    code, out, err = run(argv, monkeypatch, capsys)

    assert_one_line_refusal(directory, name, problem, code, out, err)
    assert world.sim.request_log == []
