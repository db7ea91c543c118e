"""A kubeconfig that cannot be used, or a server that cannot be reached, is one line that says
which file, which line, which contexts there are, or which server and why: never the kubernetes
client's or urllib3's internals, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.sim import KubeSim
from tests.bundle.bundle_samples import write_sample
from tests.cli_run import movekit

INTERNALS = ("Traceback", "urllib3", "HTTPConnectionPool", "HTTPSConnectionPool",
             "Max retries", "NewConnectionError", "MaxRetryError", "ConfigException",
             "Errno", "object at 0x")
CONTEXTS = ("alpha", "beta", "prod-eu")


def _kubeconfig(server: str, current: str = "alpha") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}}
                         for name in CONTEXTS]}


def _write(path: Path, document: dict[str, Any] | str) -> Path:
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


# How each command is given a kubeconfig and a context: every way in, for each mistake.
def _commands(tmp_path: Path) -> dict[str, Callable[[str, str | None], list[str]]]:
    bundle = tmp_path / "sample.tar.zst"
    if not bundle.exists():
        write_sample(bundle, archive=True)

    def context(flag: str, name: str | None) -> list[str]:
        return [flag, name] if name else []

    return {
        "export": lambda config, ctx: ["export", "-n", "prod", "--dry-run", "--kubeconfig",
                                       config, *context("--context", ctx)],
        "import": lambda config, ctx: ["import", "--from-archive", str(bundle), "--dry-run",
                                       "--kubeconfig", config, *context("--context", ctx)],
        "move source": lambda config, ctx: [
            "move", "-n", "prod", "--dry-run", "--kubeconfig", config,
            *context("--context", ctx), "--to-kubeconfig", config],
        "move target": lambda config, ctx: [
            "move", "-n", "prod", "--dry-run", "--kubeconfig", config,
            "--to-kubeconfig", config, *context("--to-context", ctx)],
    }


COMMANDS = ("export", "import", "move source", "move target")

# (kubeconfig text, the line its YAML error is on)
MALFORMED = {
    "unclosed flow mapping": ('apiVersion: v1\nkind: Config\nclusters:\n- name: c\n'
                              '  cluster: {server: "https://x"\nusers: []\n', 6),
    "tab indentation": ("apiVersion: v1\nkind: Config\nclusters:\n\t- name: c\n", 4),
    "mapping inside a value": ("apiVersion: v1\nkind: Config\ncurrent-context: a\n"
                               "  contexts: []\n", 4),
    "list after a mapping": ("apiVersion: v1\nkind: Config\n- a\n", 3),
}


def _one_line(code: int, out: str, err: str, expected_code: int) -> str:
    assert code == expected_code, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not any(internal in err for internal in INTERNALS), err
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_kubeconfig_is_named_with_the_line_of_its_error(
        case: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    text, line = MALFORMED[case]
    config = _write(tmp_path / "broken.yaml", text)
    args = _commands(tmp_path)[command](str(config), None)

    error = _one_line(*movekit(*args, monkeypatch=monkeypatch, capsys=capsys), 2)

    assert error.startswith(f"error: kubeconfig {config}, line {line}: not valid YAML: "), error


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("wanted", ["gamma", "alpha-", "Alpha"])
def test_an_unknown_context_lists_the_contexts_there_are(
        wanted: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path / "config.yaml", _kubeconfig("https://127.0.0.1:1"))
    args = _commands(tmp_path)[command](str(config), wanted)

    error = _one_line(*movekit(*args, monkeypatch=monkeypatch, capsys=capsys), 2)

    assert error == (f"error: context '{wanted}' is not in kubeconfig {config}; "
                     f"available contexts: {', '.join(sorted(CONTEXTS))}")


def test_a_current_context_that_is_not_defined_is_named_with_the_contexts_there_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path / "config.yaml", _kubeconfig("https://127.0.0.1:1", "deleted"))
    args = _commands(tmp_path)["export"](str(config), None)

    error = _one_line(*movekit(*args, monkeypatch=monkeypatch, capsys=capsys), 2)

    assert error == (f"error: current-context 'deleted' is not in kubeconfig {config}; "
                     f"available contexts: {', '.join(sorted(CONTEXTS))}")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_kubeconfig_names_its_path(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "config.yaml"
    args = _commands(tmp_path)[command](str(missing), None)

    error = _one_line(*movekit(*args, monkeypatch=monkeypatch, capsys=capsys), 2)

    assert error == f"error: kubeconfig {missing} does not exist"


@pytest.mark.parametrize("environment", ["KUBECONFIG", "HOME"])
def test_without_a_kubeconfig_the_default_paths_looked_at_are_named(
        environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    if environment == "KUBECONFIG":
        looked_at = tmp_path / "from-env.yaml"
        monkeypatch.setenv("KUBECONFIG", str(looked_at))
    else:
        monkeypatch.setenv("HOME", str(tmp_path))
        looked_at = tmp_path / ".kube" / "config"

    error = _one_line(*movekit("export", "-n", "prod", "--dry-run", monkeypatch=monkeypatch,
                               capsys=capsys), 2)

    assert error == (f"error: no kubeconfig: {looked_at} does not exist (give --kubeconfig or "
                     "set KUBECONFIG)")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["export", "move source"])
def test_a_server_that_refuses_connections_is_one_line_naming_it_exit_5(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = f"http://127.0.0.1:{_closed_port()}"
    config = _write(tmp_path / "config.yaml", _kubeconfig(server))
    args = _commands(tmp_path)[command](str(config), None)

    error = _one_line(*movekit(*args, "-q", monkeypatch=monkeypatch, capsys=capsys), 5)

    assert error.startswith(f"error: cannot reach {server}: connection refused ("), error


def test_a_server_name_that_does_not_resolve_is_one_line_exit_5(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = "https://no-such-host.invalid:6443"  # .invalid never resolves (RFC 6761)
    config = _write(tmp_path / "config.yaml", _kubeconfig(server))

    error = _one_line(*movekit(*_commands(tmp_path)["export"](str(config), None), "-q",
                               monkeypatch=monkeypatch, capsys=capsys), 5)

    assert error.startswith(f"error: cannot reach {server}: host name not resolved ("), error


def test_a_server_whose_certificate_does_not_verify_is_one_line_exit_5(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with KubeSim(tls=True) as sim:
        document = yaml.safe_load(Path(sim.write_kubeconfig(tmp_path / "sim.yaml")).read_text())
        for entry in document["clusters"]:  # trust only the system's CAs: not kubesim's
            entry["cluster"].pop("certificate-authority-data", None)
            entry["cluster"].pop("certificate-authority", None)
        config = _write(tmp_path / "config.yaml", document)

        error = _one_line(*movekit(*_commands(tmp_path)["export"](str(config), None), "-q",
                                   monkeypatch=monkeypatch, capsys=capsys), 5)

    assert error.startswith(f"error: cannot reach {sim.url}: TLS verification failed: "), error
