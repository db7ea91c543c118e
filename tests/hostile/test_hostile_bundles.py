"""Every hostile bundle of the corpus, handed to ``movekit verify`` and ``movekit import``:
one clear line on stderr naming the problem and where, exit code 3, not a single request to
the target cluster, and nothing written anywhere.

The whole corpus runs in-process through the CLI's entry point (cheap); a sample of it also
runs as real ``python -m movekit`` processes, started together.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubesim import KubeSim
from movekit import cli
from movekit.bundle import archive as archive_module
from movekit.bundle import reader as reader_module
from movekit.errors import InvalidBundle
from tests.bundle.bundle_samples import SECRET_DATA, SECRET_VALUE, snapshot
from tests.hostile.corpus import CORPUS, ESCAPE, Hostile


@dataclass
class Corpus:
    root: Path
    paths: dict[tuple[str, str], Path]  # (case id, form) -> what movekit is handed
    kubeconfig: Path
    sim: KubeSim
    cwd: Path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("hostile")
    paths = {(case.id, case.form): case.make(root / "cases" / f"{case.id}-{case.form}")
             for case in CORPUS}
    for name in ("cwd", "home", "tmp"):
        (root / name).mkdir()
    with KubeSim() as sim:
        kubeconfig = sim.write_kubeconfig(root / "target.kubeconfig")
        yield Corpus(root, paths, kubeconfig, sim, root / "cwd")


def command(verb: str, case: Hostile, path: Path, kubeconfig: Path, *quiet: str) -> list[str]:
    if verb == "verify":
        return ["verify", str(path)]
    source = "--from-directory" if case.form == "directory" else "--from-archive"
    return ["import", "--kubeconfig", str(kubeconfig), source, str(path), *quiet]


def assert_refused(case: Hostile, path: Path, code: object, stdout: str, stderr: str, *,
                   progress: bool = False) -> None:
    """Exit 3 and one error line, ``<path>: <where>: <problem>``, printable and free of
    secrets; it is all of stderr unless the importer's ``progress`` lines may precede it."""
    assert code == InvalidBundle.exit_code, (code, stderr)
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert progress or lines == errors, stderr
    line = errors[0]
    assert line.isprintable(), repr(line)
    prefix = f"error: {re.escape(str(path))}: "
    pattern = (prefix + f"({case.where}): (.*)$") if case.where else (prefix + "(.*)$")
    match = re.match(pattern, line)
    assert match, (pattern, line)
    assert re.search(case.problem, match.group(match.lastindex or 0)), line
    for output in (stdout, stderr):
        assert SECRET_VALUE not in output and SECRET_DATA not in output


def assert_untouched(corpus: Corpus, before: dict[str, tuple[int, int, int]]) -> None:
    assert corpus.sim.request_log == [], corpus.sim.request_log[:3]
    assert snapshot(corpus.root) == before
    # Where a traversal from the working directory or an absolute member would have landed.
    for place in (corpus.root.parent, corpus.root, corpus.root / "cases"):
        assert not (place / ESCAPE).exists()


@pytest.mark.parametrize("verb", ["verify", "import"])
@pytest.mark.parametrize("case", CORPUS, ids=[f"{c.id}-{c.form}" for c in CORPUS])
def test_a_hostile_bundle_is_refused_with_one_line_and_no_request_or_write(
        corpus: Corpus, case: Hostile, verb: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in case.limits.items():
        for module in (archive_module, reader_module):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    monkeypatch.chdir(corpus.cwd)
    path = corpus.paths[(case.id, case.form)]
    monkeypatch.setattr(sys, "argv",
                        ["movekit", *command(verb, case, path, corpus.kubeconfig, "--quiet")])
    capsys.readouterr()
    before = snapshot(corpus.root)

    with pytest.raises(SystemExit) as exited:
        cli.main()

    captured = capsys.readouterr()
    if verb == "import" and case.flag_refusal:
        assert exited.value.code == 2, captured.err
        assert captured.err.startswith("error: --from-") and case.flag_refusal in captured.err
    else:
        assert_refused(case, path, exited.value.code, captured.out, captured.err)
    assert_untouched(corpus, before)


# A few cases as a user runs them (each process costs a second of start-up); every process
# starts before any is awaited.
SAMPLE = [("traversal", "archive"), ("symlink-file", "directory"),
          ("object-kind-lie", "archive")]


def test_the_movekit_command_refuses_a_sample_of_the_corpus_the_same_way(corpus: Corpus) -> None:
    chosen = [case for case in CORPUS if (case.id, case.form) in SAMPLE]
    assert len(chosen) == len(SAMPLE)
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    env.update(HOME=str(corpus.root / "home"), TMPDIR=str(corpus.root / "tmp"),
               NO_COLOR="1", COLUMNS="80")
    before = snapshot(corpus.root)
    runs = []
    for case in chosen:
        path = corpus.paths[(case.id, case.form)]
        for verb in ("verify", "import"):
            process = subprocess.Popen(
                [sys.executable, "-m", "movekit", *command(verb, case, path, corpus.kubeconfig)],
                cwd=corpus.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            runs.append((case, path, process))
    for case, path, process in runs:
        stdout, stderr = process.communicate(timeout=60)
        assert_refused(case, path, process.returncode, stdout, stderr, progress=True)
    assert_untouched(corpus, before)
