"""The README's and the how-to guides' commands, run as printed against two clusters.

Each page's shell blocks not marked "not run in CI" run in page order, as a user would type them,
with the page's example names replaced: ``src.yaml`` and ``dst.yaml`` by the clusters'
kubeconfigs, the namespace ``prod`` by the test's own, the example digest by the bundle's, and
the example Cluster names by the seeded ones. A dry run the page shows is followed by the real
run, as the page means it to be. Every command must succeed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from kubesim.demo import TRY_NEXT_COMMANDS, TRY_NEXT_SERVE
from movekit.bundle import read_bundle
from tests.doc_commands import FLOWS, Command, shell_blocks
from tests.lanes import Env
from tests.scenarios.commands import movekit

EXAMPLE_NAMESPACE = "prod"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_BUNDLE_FLAGS = ("--from-archive", "--from-directory")


def _argv(command: Command, src: Env, dst: Env, namespace: str, names: dict[str, str],
          cwd: Path) -> list[str]:
    argv = list(command.argv[1:])
    replaced = {"src.yaml": str(src.kubeconfig), "dst.yaml": str(dst.kubeconfig),
                EXAMPLE_NAMESPACE: namespace, **names}
    argv = [replaced.get(arg, arg) for arg in argv]
    for index, arg in enumerate(argv):
        if _DIGEST.match(arg):
            bundle = next(argv[i + 1] for i, flag in enumerate(argv) if flag in _BUNDLE_FLAGS)
            argv[index] = read_bundle(cwd / bundle).digest
    if argv[:1] == ["retire"] and not {"--yes", "-y", "--dry-run"} & set(argv):
        argv.append("--yes")  # the page shows a terminal, where retire asks; the test says yes
    return argv


def _steps(page: str) -> list[Command]:
    """The page's runnable commands in order, each dry run followed by its real run."""
    commands = [c for block in shell_blocks(page) if block.not_run is None
                for c in block.commands]
    steps: list[Command] = []
    for index, command in enumerate(commands):
        steps.append(command)
        if "--dry-run" in command.argv:
            real = tuple(a for a in command.argv if a != "--dry-run")
            following = commands[index + 1].argv if index + 1 < len(commands) else None
            if following != real:
                steps.append(Command(command.line, command.text.replace(" --dry-run", ""), real))
    return steps


@pytest.mark.parametrize("page", sorted(FLOWS))
def test_every_runnable_command_of_the_page_succeeds_as_printed(
        page: str, src: Env, dst: Env, namespace: str, tmp_path: Path) -> None:
    flow = FLOWS[page]
    src.seed(TOPOLOGIES[flow.topology], namespace=namespace)
    steps = _steps(page)
    assert steps, f"{page} has a flow but no runnable command"
    for step in steps:
        argv = _argv(step, src, dst, namespace, dict(flow.names), tmp_path)
        result = movekit(*argv, cwd=tmp_path)
        assert result.returncode == 0, (
            f"{page}:{step.line}: `{step.text}` exited {result.returncode}:\n{result.stderr}")


def test_the_demos_suggestions_work_as_printed(tmp_path: Path) -> None:
    """`movekit demo` ends with commands to try: a server to start in one terminal, and
    commands for a second one. Run them, on a free port and with the files in a scratch
    directory."""
    kubeconfig = tmp_path / "src.yaml"
    serve = [arg if arg != "/tmp/src.yaml" else str(kubeconfig)
             for arg in TRY_NEXT_SERVE.split()[1:]]
    serve[serve.index("--port") + 1] = "0"
    server = subprocess.Popen([sys.executable, "-m", "movekit", *serve],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not kubeconfig.exists():
            assert server.poll() is None, f"serve exited: {server.communicate()[1]}"
            assert time.monotonic() < deadline, "serve wrote no kubeconfig in 120 s"
            time.sleep(0.2)
        for line in TRY_NEXT_COMMANDS:
            argv = [arg if arg != "/tmp/src.yaml" else str(kubeconfig)
                    for arg in line.split()[1:]]
            result = movekit(*argv, cwd=tmp_path)
            assert result.returncode == 0, f"`{line}` exited {result.returncode}:\n{result.stderr}"
    finally:
        server.terminate()
        server.wait(timeout=30)
