"""Nothing movekit prints can drive a terminal.

Bundles, clusterctl directories, kubeconfigs and API servers are written by someone else. Each
test here puts terminal controls (CSI and OSC sequences, an OSC 8 hyperlink, the window title,
C1 controls, BEL, backspace, CR, bidi overrides, zero-width characters) and rich markup into
every string such a source can carry, runs the real command line over it in every output
format, and reads the bytes a terminal would receive: no control character but the newline,
no Unicode format character, the markup shown literally, a documented exit code and no
traceback. Machine-readable output keeps the exact text, escaped by JSON or YAML.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from rich.console import Console

from kubesim.capi.topologies import TOPOLOGIES
from movekit import render
from movekit.bundle import read_bundle
from movekit.printable import printable
from tests.bundle.bundle_samples import pack, tamper, write_sample
from tests.lanes import Env

# Every kind of terminal control a hostile string can carry, and rich markup and emoji codes.
HOSTILE = ("\x1b[31mred\x1b[0m \x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ "
           "\x1b]0;owned\x07 \x9b2J \x07\x08\r \u202eevil\u202c \u2066x\u2069 \u200b\ufeff "
           "[bold]b[/bold] [/] [link=https://evil.example]l[/link] :red_circle: \u2028end")
# The same for a server URL, whose schema refuses whitespace.
HOSTILE_URL = ("https://h\x1b[31m[/bold]\x9b2J\u202e\x07.example:6443/p\x1b]8;;https://e/"
               "\x1b\\[link=x]\x08\u200b")
# Where nothing listens, with the same controls in its path.
UNREACHABLE_URL = ("https://127.0.0.1:1/\x1b[31m[/bold]\x9b2J\u202e\x07/p\x1b]8;;https://e/"
                   "\x1b\\[link=x]\x08\u200b")
# What a terminal or a Unicode renderer acts on: controls, format characters, separators other
# than the space, surrogates.
ACTIVE = ("Cc", "Cf", "Cs", "Zl", "Zp")
FORMATS = ("text", "json", "yaml")
INSPECT_FORMATS = ("tree", "json", "yaml", "dot", "mermaid")


def movekit(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """``movekit ARGS`` in a child process, its output as the bytes a terminal would get."""
    return subprocess.run([sys.executable, "-m", "movekit", *map(str, args)],
                          capture_output=True, timeout=180, check=False)


def inert(data: bytes) -> str:
    """``data`` as text, after checking that nothing in it can act on a terminal."""
    assert re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", data) is None, data
    text = data.decode("utf-8")
    active = {c for c in text if c != "\n" and unicodedata.category(c) in ACTIVE}
    assert not active, (sorted(active), text)
    assert "Traceback" not in text
    return text


def shown(done: subprocess.CompletedProcess[bytes], exit_code: int = 0) -> tuple[str, str]:
    """Standard output and error of a run that ended with ``exit_code``, both inert."""
    stdout, stderr = inert(done.stdout), inert(done.stderr)
    assert done.returncode == exit_code, stderr
    return stdout, stderr


def one_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def document(output: str, stdout: str) -> Any:
    return json.loads(stdout) if output == "json" else yaml.safe_load(stdout)


def hostile_bundle(path: Path) -> Path:
    """The sample bundle, re-sealed, with hostile text in every free-text manifest field."""
    write_sample(path)

    def lie(manifest: dict[str, Any]) -> None:
        manifest["source"]["server"] = HOSTILE_URL
        manifest["namespaces"][0]["annotations"] = {"note": HOSTILE, "example.com/x": HOSTILE}
        manifest["excluded"][0]["detail"] = HOSTILE

    tamper(path, manifest=lie)
    return path


def hostile_kubeconfig(path: Path) -> Path:
    """A kubeconfig whose names and server URL carry terminal controls; nothing listens."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": HOSTILE,
        "clusters": [{"name": HOSTILE, "cluster": {"server": UNREACHABLE_URL}}],
        "contexts": [{"name": HOSTILE, "context": {"cluster": HOSTILE, "user": HOSTILE}}],
        "users": [{"name": HOSTILE, "user": {"token": "t"}}],
    }))
    return path


# -- a bundle that verifies: every command that reads one, in every format ---------------------

READS = [("verify", "-o", output) for output in FORMATS] + [
    ("inspect", "--format", output) for output in INSPECT_FORMATS]


# Each command over a directory, and the tree and verify over an archive too.
BUNDLE_READS = [(command, False) for command in READS] + [
    (("inspect", "--format", "tree"), True), (("verify", "-o", "text"), True)]


@pytest.mark.parametrize(("command", "archive"), BUNDLE_READS,
                         ids=[f"{c[0]}-{c[2]}-{'archive' if a else 'directory'}"
                              for c, a in BUNDLE_READS])
def test_a_hostile_but_valid_bundle_is_shown_literally(
    command: tuple[str, str, str], archive: bool, tmp_path: Path
) -> None:
    bundle = hostile_bundle(tmp_path / "b")
    if archive:
        bundle = pack(bundle, tmp_path / "b.tar.zst")
    verb, flag, output = command

    stdout, _ = shown(movekit(verb, bundle, flag, output))

    if (verb, output) == ("inspect", "tree"):
        assert f"from {printable(HOSTILE_URL)} at " in stdout
        assert f"Secret/prod/stray: orphan: {printable(HOSTILE)}\n" in stdout
        assert "[bold]b[/bold] [/] [link=https://evil.example]l[/link] :red_circle:" in stdout
    elif (verb, output) in (("inspect", "json"), ("inspect", "yaml")):
        manifest = document(output, stdout)
        assert manifest["source"]["server"] == HOSTILE_URL
        assert manifest["excluded"][0]["detail"] == HOSTILE
        assert manifest["namespaces"][0]["annotations"]["note"] == HOSTILE
        assert manifest.pop("apiVersion") == render.OUTPUT_API_VERSION
        assert manifest.pop("kind") == "Bundle"
        assert manifest == read_bundle(bundle).manifest
    elif verb == "verify":
        assert read_bundle(bundle).digest in stdout


FORGED_NAMES = ('a"];\n  evil [label="x', 'b"]\n  click n0 "https://evil"', "c\x1b[31m\u202e",
                'd\\"', "e#quot;<b>&amp;]", "f\\", "g\r\x9b")


def test_a_name_cannot_leave_its_dot_or_mermaid_label(tmp_path: Path) -> None:
    """The manifest schema keeps such names out of a bundle; the graph renderers do not rely
    on it."""
    write_sample(tmp_path / "b")
    bundle = read_bundle(tmp_path / "b")
    bundle.entries = [replace(entry, ref=replace(entry.ref, name=name)) for entry, name
                      in zip(bundle.entries, FORGED_NAMES, strict=False)]
    quoted = r'"(?:[^"\\\n]|\\.)*"'
    for renderer, shapes in (
        (render.inspect_dot, ("digraph bundle {", "  rankdir=LR;", "}",
                              rf"  {quoted} \[label={quoted}\];",
                              rf"  {quoted} -> {quoted}( \[style=dashed\])?;")),
        (render.inspect_mermaid, ("graph LR", r'  n\d+\["[^"\n]*"\]', r"  n\d+ -\.?-> n\d+")),
    ):
        out = StringIO()
        renderer(Console(file=out, width=1000), bundle)
        lines = inert(out.getvalue().encode()).splitlines()
        assert all(any(re.fullmatch(shape, line) for shape in shapes) for line in lines), lines
        labels = [line for line in lines if "label=" in line or '["' in line]
        assert len(labels) == len(bundle.entries)


# -- errors quoting what the user's own files and directories say -----------------------------

UNREACHABLE = [
    ("export", "-n", "default", "--dry-run"),
    ("import", "--from-directory", "{bundle}", "--dry-run"),
    ("retire", "--from-directory", "{bundle}", "--force", "--yes"),
    ("resume-source", "--from-directory", "{bundle}"),
    ("move", "--to-kubeconfig", "{kubeconfig}", "-n", "default", "--dry-run"),
]


@pytest.mark.parametrize("output", FORMATS)
@pytest.mark.parametrize("command", UNREACHABLE, ids=[c[0] for c in UNREACHABLE])
def test_an_error_quoting_a_hostile_kubeconfig_is_one_escaped_line(
    command: tuple[str, ...], output: str, tmp_path: Path
) -> None:
    kubeconfig = hostile_kubeconfig(tmp_path / "kubeconfig")
    bundle = hostile_bundle(tmp_path / "b")
    args = [arg.format(bundle=bundle, kubeconfig=kubeconfig) for arg in command]

    stdout, stderr = shown(movekit(*args, "--kubeconfig", kubeconfig, "-o", output),
                           exit_code=5)

    assert printable(UNREACHABLE_URL) in one_error(stderr)
    if output != "text":
        assert "\x1b[31m[/bold]" in document(output, stdout)["message"]


def test_an_error_naming_a_hostile_context_is_escaped(tmp_path: Path) -> None:
    kubeconfig = hostile_kubeconfig(tmp_path / "kubeconfig")
    missing = "x\x1b]0;owned\x07[/bold]\u202e"

    _, stderr = shown(movekit("export", "--kubeconfig", kubeconfig, "--context", missing,
                              "-n", "default", "--dry-run"), exit_code=2)

    assert printable(missing) in one_error(stderr)


CLUSTERCTL_FILE_NAMES = ("Cluster_prod_c1\x1b]0;owned\x07.yaml", "Cluster_prod_c1\x9b2J.yaml",
                         "Cluster_prod_c1\u202e\u200b.yaml", "Cluster_prod_c1[bold]\r.yaml",
                         "Cluster_prod_c1\x1b]8;;https:\x1b\\[link=x].yaml",
                         "Cluster_prod_c1[bold][link=https:x]:red_circle:.yaml")


@pytest.mark.parametrize("verb", ["import", "verify", "inspect"])
@pytest.mark.parametrize("name", CLUSTERCTL_FILE_NAMES, ids=ascii)
def test_an_error_naming_a_hostile_clusterctl_file_is_escaped(name: str, verb: str,
                                                                tmp_path: Path) -> None:
    directory = tmp_path / "clusterctl"
    directory.mkdir()
    (directory / name).write_text(json.dumps({
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
        "metadata": {"name": "c1", "namespace": "prod", "uid": "u1"}}))
    # Refused before the first request: nothing listens behind this kubeconfig.
    command = {"import": ("import", "--from-directory", directory, "--dry-run", "--kubeconfig",
                          hostile_kubeconfig(tmp_path / "kubeconfig")),
               "verify": ("verify", directory), "inspect": ("inspect", directory)}[verb]

    _, stderr = shown(movekit(*command), exit_code=3)

    error = one_error(stderr)
    assert "Cluster_prod_c1" in error
    if name.isprintable():
        assert name in error


# -- what the API server says, in both lanes --------------------------------------------------

def add_hostile_owner(env: Env, namespace: str) -> None:
    """A ConfigMap owned by an object of a kind nothing serves, named with terminal controls:
    the API server accepts any ownerReference name and kind, and export reports why it stays."""
    k8s_client.CoreV1Api(env.api).create_namespaced_config_map(namespace, {
        "metadata": {"name": "stray", "ownerReferences": [{
            "apiVersion": "widgets.example.com/v1", "kind": f"W{HOSTILE}", "name": HOSTILE,
            "uid": "0d6f3b2e-0000-4000-8000-000000000001"}]}})


def test_what_the_source_server_holds_prints_escaped_through_export_and_import(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    add_hostile_owner(src, namespace)
    from_source = ("--kubeconfig", src.kubeconfig, "-n", namespace)

    for output in FORMATS:
        stdout, _ = shown(movekit("export", *from_source, "--dry-run", "-o", output))
        if output == "text":
            assert f"ConfigMap/{namespace}/stray: owner-kind-unknown: owner " \
                   f"{printable('W' + HOSTILE)}" in stdout
        else:
            details = [e["detail"] for e in document(output, stdout)["excluded"]
                       if e["name"] == "stray"]
            assert len(details) == 1 and HOSTILE in details[0]

    bundle = tmp_path / "b"
    stdout, _ = shown(movekit("export", *from_source, "--leave-paused", "--to-directory", bundle))
    assert printable(HOSTILE) in stdout
    for command in READS:
        verb, flag, output = command
        stdout, _ = shown(movekit(verb, bundle, flag, output))
        if (verb, output) == ("inspect", "tree"):
            assert printable(HOSTILE) in stdout

    to_target = ("--kubeconfig", dst.kubeconfig, "--from-directory", bundle)
    for output in FORMATS:
        shown(movekit("import", *to_target, "--dry-run", "-o", output))
    stdout, _ = shown(movekit("import", *to_target))
    assert "created 4, adopted 0, updated 0, skipped 0" in stdout


@pytest.mark.parametrize("output", FORMATS)
def test_a_live_move_past_hostile_owner_references_prints_nothing_active(
    src: Env, dst: Env, namespace: str, tmp_path: Path, output: str
) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    add_hostile_owner(src, namespace)

    stdout, stderr = shown(movekit(
        "move", "--kubeconfig", src.kubeconfig, "--to-kubeconfig", dst.kubeconfig,
        "-n", namespace, "--journal", tmp_path / "move.journal.json", "-v", "-o", output))

    assert "error" not in stderr
    if output != "text":
        assert document(output, stdout)["phase"] == "done"


@pytest.mark.parametrize("output", FORMATS)
def test_retire_and_resume_source_of_a_hostile_bundle_print_nothing_active(
    src: Env, namespace: str, tmp_path: Path, output: str
) -> None:
    # Nothing in the source has the sample's names: both only read and report.
    bundle = hostile_bundle(tmp_path / "b")
    for verb, *more in (("retire", "--force", "--yes"), ("resume-source",)):
        shown(movekit(verb, "--kubeconfig", src.kubeconfig, "--from-directory", bundle,
                      "-o", output, *more))


@pytest.mark.parametrize("output", FORMATS)
def test_an_admission_denial_full_of_controls_is_one_escaped_error_line(
    src: Env, dst: Env, namespace: str, tmp_path: Path, output: str
) -> None:
    sim = dst.require_sim("denies creates as an admission webhook would")
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    bundle = tmp_path / "b"
    shown(movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--leave-paused",
                  "--to-directory", bundle))
    sim.controls.admission(lambda verb, obj: HOSTILE if obj.get("kind") == "Secret" else None)

    done = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", bundle,
                   "-o", output)

    stdout, stderr = shown(done, exit_code=done.returncode)
    assert done.returncode in (6, 7)
    one_error(stderr)
    # The error lists each failed object on a line of its own, with the server's reason.
    assert printable(HOSTILE) in stderr[stderr.index("error: "):]
    if output != "text":
        assert HOSTILE in document(output, stdout)["message"]
