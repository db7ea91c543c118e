"""What the flags alone show cannot work is refused with exit 2 and one line, before any request.

Every row runs as ``movekit`` runs (``cli.main``, in this process) against a kubesim that
counts requests: each refusal must leave that count at 0. Which commands take a flag is read
from the CLI itself, so a command that gains the flag is checked too.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from kubesim import KubeSim
from movekit import cli
from movekit.preflight import EXCLUSIVE
from tests.bundle.bundle_samples import write_sample

# The commands that talk to a cluster, and what each needs besides the flag under test.
BASE: dict[str, list[str]] = {
    "export": ["--to-directory", "{fresh}"],
    "import": ["--from-directory", "{bundle}"],
    "move": ["--to-kubeconfig", "{kubeconfig}"],
    "retire": ["--from-directory", "{bundle}"],
    "resume-source": ["--from-directory", "{bundle}"],
}
# Given one of these, a command needs no bundle path of the base.
BUNDLE_PATHS = {"--to-directory", "--to-archive", "--from-directory", "--from-archive",
                "--resume", "--rollback"}


@functools.cache
def _flags_of(command: str) -> frozenset[str]:
    click_app = typer.main.get_command(cli.app)
    found = click_app.commands[command]  # type: ignore[attr-defined]
    return frozenset(opt for param in found.params for opt in param.opts if opt.startswith("--"))


class Paths:
    """Paths the rows name, made fresh for each test."""

    def __init__(self, root: Path, kubeconfig: Path) -> None:
        self.root, self.kubeconfig = root, kubeconfig
        self.bundle = root / "bundle"
        self.archive = root / "bundle.tar.zst"
        self.fresh = root / "new"  # nothing there: where a command may write
        self.full = root / "full"  # a directory of someone else's
        self.file = root / "file"  # a file of someone else's
        self.journal = root / "old.journal.json"
        self.fifo = root / "fifo"
        self.missing = root / "missing" / "x"
        self.through_file = self.file / "x"
        write_sample(self.bundle)
        write_sample(self.archive)
        self.full.mkdir()
        (self.full / "someone-else").write_text("keep\n")
        self.file.write_text("not a bundle\n")
        self.journal.write_text("{}\n")
        os.mkfifo(self.fifo)


@dataclass(frozen=True)
class Bad:
    """One flag with a value that cannot work, and the error it must get."""

    id: str
    flag: str
    value: Callable[[Paths], str]
    error: Callable[[Paths], str]  # ends in "(" where the OS words the reason
    shown: Callable[[Paths], str] | None = None  # the value as the error quotes it

    def line(self, paths: Paths) -> str:
        return f"error: {self.flag} {(self.shown or self.value)(paths)}: {self.error(paths)}"


def _text(text: str) -> Callable[[Paths], str]:
    return lambda _paths: text


def _numbers() -> list[Bad]:
    above, not_negative = _text("must be a number above 0"), _text("must be 0 or more seconds")
    rows = [Bad(f"{flag}={value}", flag, _text(value), above)
            for flag in ("--workers", "--burst") for value in ("0", "-1", "-100")]
    rows += [Bad(f"--qps={value}", "--qps", _text(value), above)
             for value in ("0", "-1", "-0.5", "nan", "inf")]
    rows += [Bad(f"{flag}={value}", flag, _text(value), not_negative)
             for flag in ("--block-move-timeout", "--retire-timeout")
             for value in ("-1", "-0.5", "nan", "inf")]
    return rows


def _namespace_maps() -> list[Bad]:
    label = ("a namespace name is a DNS-1123 label: at most 63 lowercase letters, digits and "
             "'-', starting and ending with a letter or digit")
    rows = [Bad("no-equals", "--namespace-map", _text("prod"), _text("wants OLD=NEW"),
                _text("'prod'"))]
    for shape, pair, name in (("upper", "Prod=eu", "Prod"), ("underscore", "prod=eu_1", "eu_1"),
                              ("empty-new", "prod=", ""), ("empty-old", "=eu", ""),
                              ("too-long", f"prod={'a' * 64}", "a" * 64),
                              ("dot", "prod=eu.west", "eu.west"), ("dash-end", "prod-=eu", "prod-"),
                              ("two-equals", "prod=eu=west", "eu=west")):
        rows.append(Bad(f"namespace-map-{shape}", "--namespace-map", _text(pair),
                        _text(f"{name!r} is not a namespace name; {label}"), _text(repr(pair))))
    return rows


PATHS: list[Bad] = [
    Bad("to-directory-not-empty", "--to-directory", lambda p: str(p.full),
        lambda p: "directory is not empty and is not a movekit bundle; name a new or empty "
                  "directory"),
    Bad("to-directory-parent-missing", "--to-directory", lambda p: str(p.missing),
        lambda p: f"directory {p.missing.parent} does not exist"),
    Bad("to-directory-is-a-file", "--to-directory", lambda p: str(p.file),
        lambda p: "exists and is not a directory"),
    Bad("to-directory-through-a-file", "--to-directory", lambda p: str(p.through_file),
        lambda p: f"{p.file} is not a directory"),
    Bad("to-directory-in-proc", "--to-directory", lambda p: "/proc/movekit-bundle",
        lambda p: "cannot write in /proc ("),
    Bad("to-archive-is-a-directory", "--to-archive", lambda p: str(p.full),
        lambda p: "exists and is not a file"),
    Bad("to-archive-parent-missing", "--to-archive", lambda p: str(p.missing),
        lambda p: f"directory {p.missing.parent} does not exist"),
    Bad("to-archive-not-a-bundle", "--to-archive", lambda p: str(p.file),
        lambda p: "exists and is not a .tar.zst bundle; refusing to overwrite it"),
    Bad("to-archive-in-proc", "--to-archive", lambda p: "/proc/self/movekit.tar.zst",
        lambda p: "cannot write in /proc/self ("),
    Bad("from-directory-is-a-file", "--from-directory", lambda p: str(p.archive),
        lambda p: "not a directory (an archive is read with --from-archive)"),
    Bad("from-directory-missing", "--from-directory", lambda p: str(p.missing),
        lambda p: "does not exist"),
    Bad("from-directory-through-a-file", "--from-directory", lambda p: str(p.through_file),
        lambda p: "is not reachable: a part of the path is a file, not a directory"),
    Bad("from-archive-is-a-directory", "--from-archive", lambda p: str(p.bundle),
        lambda p: "is a directory, not a file (a bundle directory is read with "
                  "--from-directory)"),
    Bad("from-archive-missing", "--from-archive", lambda p: str(p.missing),
        lambda p: "does not exist"),
    Bad("from-archive-fifo", "--from-archive", lambda p: str(p.fifo),
        lambda p: "not a regular file"),
    Bad("from-archive-device", "--from-archive", lambda p: "/dev/null",
        lambda p: "not a regular file"),
    *[Bad(f"{flag[2:]}-{shape}", flag, value, error)
      for flag in ("--passphrase-file", "--identity", "--resume", "--rollback")
      for shape, value, error in (
          ("missing", lambda p: str(p.missing), lambda p: "does not exist"),
          ("directory", lambda p: str(p.full), lambda p: "is a directory, not a file"))],
    Bad("journal-exists", "--journal", lambda p: str(p.journal),
        lambda p: "exists already; name a new file"),
    Bad("journal-parent-missing", "--journal", lambda p: str(p.missing),
        lambda p: f"directory {p.missing.parent} does not exist"),
]

ROWS = [*_numbers(), *_namespace_maps(), *PATHS]
CASES = [(command, row) for row in ROWS for command in BASE if row.flag in _flags_of(command)]

# A value that works for each flag of the pairs that exclude each other.
GOOD: dict[str, Callable[[Paths], list[str]]] = {
    "--to-directory": lambda p: [str(p.fresh)],
    "--to-archive": lambda p: [str(p.root / "new.tar.zst")],
    "--from-directory": lambda p: [str(p.bundle)],
    "--from-archive": lambda p: [str(p.archive)],
    "--namespace": lambda p: ["default"],
    "--resume": lambda p: [str(p.journal)],
    "--rollback": lambda p: [str(p.journal)],
    "--journal": lambda p: [str(p.root / "new.journal.json")],
}
PAIRS = [(command, pair) for pair in EXCLUSIVE for command in BASE
         if set(pair) <= _flags_of(command)]


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim() as running:
        yield running


@pytest.fixture
def requests_before(sim: KubeSim) -> int:
    return sim.request_count()


@pytest.fixture
def paths(sim: KubeSim, tmp_path: Path) -> Paths:
    kubeconfig = tmp_path / "cluster.kubeconfig"
    sim.write_kubeconfig(kubeconfig)
    root = tmp_path / "work"
    root.mkdir()
    return Paths(root, kubeconfig)


def _run(command: str, args: list[str], paths: Paths, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int | str | None, str, str]:
    base = [] if BUNDLE_PATHS & set(args) else BASE[command]
    names = {"fresh": paths.fresh, "bundle": paths.bundle, "kubeconfig": paths.kubeconfig}
    argv = ["movekit", command, "--kubeconfig", str(paths.kubeconfig),
            *(part.format(**names) for part in base), *args]
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def _assert_refused(code: int | str | None, out: str, err: str, line: str, sim: KubeSim,
                    before: int) -> None:
    assert "Traceback" not in err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    if line.endswith("("):  # the OS words the reason
        assert lines[0].startswith(line), err
    else:
        assert lines == [line]
    assert out == ""
    assert sim.request_count() == before, "refused before the first request"


@pytest.mark.parametrize(("command", "row"), CASES, ids=[f"{c}-{r.id}" for c, r in CASES])
def test_a_flag_that_cannot_work_is_refused_in_one_line_before_any_request(
        command: str, row: Bad, paths: Paths, sim: KubeSim, requests_before: int,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(command, [row.flag, row.value(paths)], paths, monkeypatch, capsys)

    _assert_refused(code, out, err, row.line(paths), sim, requests_before)
    assert sorted(os.listdir(paths.full)) == ["someone-else"]
    assert paths.file.read_text() == "not a bundle\n"
    assert not paths.fresh.exists()
    assert not os.path.lexists("/proc/movekit-bundle")


@pytest.mark.parametrize(("command", "pair"), PAIRS, ids=[f"{c}-{a}-{b}" for c, (a, b) in PAIRS])
def test_flags_that_exclude_each_other_are_refused_before_any_request(
        command: str, pair: tuple[str, str], paths: Paths, sim: KubeSim, requests_before: int,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = [part for flag in pair for part in (flag, *(GOOD[flag](paths) if flag in GOOD
                                                       else []))]

    code, out, err = _run(command, args, paths, monkeypatch, capsys)

    first, second = pair
    _assert_refused(code, out, err, f"error: {first} and {second} exclude each other: use one "
                                    "of them", sim, requests_before)


def test_every_pair_that_excludes_each_other_is_checked_by_some_command() -> None:
    assert {pair for _, pair in PAIRS} == set(EXCLUSIVE)


def test_a_namespace_mapped_twice_is_refused_before_any_request(
        paths: Paths, sim: KubeSim, requests_before: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for second in ("eu", "us"):
        args = ["--namespace-map", "prod=eu", "--namespace-map", f"prod={second}"]
        code, out, err = _run("import", args, paths, monkeypatch, capsys)

        _assert_refused(code, out, err, f"error: --namespace-map 'prod={second}': namespace "
                                        "prod is mapped twice", sim, requests_before)


@pytest.mark.parametrize("flag", ["--workers", "--qps", "--burst", "--block-move-timeout"])
def test_a_number_flag_given_a_word_is_refused_before_any_request(
        flag: str, paths: Paths, sim: KubeSim, requests_before: int,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (c for c in BASE if flag in _flags_of(c)):
        code, _, err = _run(command, [flag, "many"], paths, monkeypatch, capsys)

        assert code == 2, err
        assert "Traceback" not in err
        assert flag in err
        assert sim.request_count() == requests_before


def test_the_flags_checked_still_let_a_good_command_through(
        paths: Paths, sim: KubeSim, requests_before: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The same checks do not refuse a usable command line: this one reaches the cluster.
    code, _, err = _run("export", ["-n", "default", "--qps", "50", "--burst", "1",
                                   "--block-move-timeout", "0"], paths, monkeypatch, capsys)

    assert sim.request_count() > requests_before
    assert "Traceback" not in err
    assert code == 4, err  # it got as far as asking the cluster for its Cluster API kinds
    assert "no Cluster API CRDs found" in err
