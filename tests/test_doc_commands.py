"""The commands the README and the how-to guides show are commands movekit takes, and what the
docs say about flags (that one exists or not, its default) is what the command line says.

tests/scenarios/test_doc_flows.py runs the pages' runnable blocks against clusters; this file
needs none.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubesim.demo import TRY_NEXT, TRY_NEXT_COMMANDS, TRY_NEXT_SERVE
from movekit.apply import DEFAULT_WORKERS
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS
from tests.doc_commands import (
    FLOWS,
    PAGES,
    ROOT,
    command_of,
    has_option,
    indented_movekit_lines,
    parse_problem,
    shell_blocks,
)

# Every page that talks about movekit's flags.
DOC_PAGES = sorted({*PAGES, *(p.relative_to(ROOT).as_posix()
                              for p in (ROOT / "docs").glob("*.md")
                              if p.name != "cli.md")})  # cli.md is generated from the code
COMMANDS = (("export",), ("import",), ("move",), ("retire",), ("resume-source",),
            ("verify",), ("inspect",), ("kubesim", "serve"), ("kubesim", "seed"))


@pytest.mark.parametrize("page", PAGES)
def test_every_movekit_command_on_the_page_parses_with_the_real_command_line(page: str) -> None:
    problems = [f"{page}:{c.line}: `{c.text}`: {problem}"
                for block in shell_blocks(page) for c in block.commands if c.is_movekit
                for problem in [parse_problem(c.argv[1:])] if problem]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_every_shell_block_is_run_by_a_test_or_says_why_not(page: str) -> None:
    for block in shell_blocks(page):
        assert block.commands, f"{block.where}: an empty shell block"
        if block.not_run is not None:
            assert len(block.not_run.split()) >= 2, (
                f"{block.where}: 'not run in CI' needs a reason a reader can check")
            continue
        assert page in FLOWS, (
            f"{block.where}: runnable block on a page without a flow in tests/doc_commands.py "
            "FLOWS; add one, or mark the block <!-- not run in CI: REASON -->")
        other = [c.text for c in block.commands if not c.is_movekit]
        assert not other, (f"{block.where}: only movekit commands run in CI; mark the block "
                           f"<!-- not run in CI: REASON --> for {other}")


@pytest.mark.parametrize("page", PAGES)
def test_no_movekit_command_escapes_the_checks_in_an_indented_block(page: str) -> None:
    assert indented_movekit_lines(page) == [], (
        f"{page}: write commands in a ```sh block, where tests parse and run them")


def test_the_checks_catch_a_flag_that_does_not_exist() -> None:
    assert parse_problem(["import", "--from-directory", "b/", "--no-such-flag"]) is not None
    assert parse_problem(["no-such-command"]) is not None
    assert parse_problem(["kubesim", "serve", "--tls", "--port", "6443"]) is None
    assert parse_problem(["move", "--help"]) is None


_NO_FLAG = re.compile(r"`movekit ([\w-]+)` has no `(--[\w-]+)`")


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_never_say_a_command_lacks_a_flag_it_has(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    wrong = [f"movekit {command} {flag}" for command, flag in _NO_FLAG.findall(text)
             if has_option((command,), flag)]
    assert not wrong, f"{page} says these flags do not exist, but they do: {wrong}"


# A default stated in prose: `--flag`, then its number. Checked against every command that has
# the flag (they share one constant).
_FLAG_DEFAULT = re.compile(r"`(--[\w-]+)`, (\d+)(?: seconds)? by default")
# Defaults stated otherwise, each with the flag it is the default of.
_WORDED_DEFAULTS = (
    (re.compile(r"`--block-move-timeout SECONDS` \| .*\((\d+) by default\)"),
     "--block-move-timeout"),
    (re.compile(r"Concurrency within a wave \((\d+) by default\)"), "--workers"),
    (re.compile(r"rate limit \((\d+) requests per second"), "--qps"),
    (re.compile(r"with bursts of (\d+) by default"), "--burst"),
)
_ANY_DEFAULT = re.compile(r"\d[^.;|]{0,40}\bby default")


def _defaults(flag: str) -> set[float]:
    """The defaults of ``flag`` across movekit's own commands (not the emulator's)."""
    return {float(default) for path in COMMANDS if path[0] != "kubesim" and has_option(path, flag)
            for param in command_of(path).params if flag in param.opts
            for default in [param.default]}


@pytest.mark.parametrize("page", DOC_PAGES)
def test_defaults_the_docs_state_are_the_command_lines(page: str) -> None:
    for number, line in enumerate((ROOT / page).read_text(encoding="utf-8").splitlines(), 1):
        claims = [(flag, value) for flag, value in _FLAG_DEFAULT.findall(line)]
        claims += [(flag, value) for pattern, flag in _WORDED_DEFAULTS
                   for value in pattern.findall(line)]
        for flag, value in claims:
            defaults = _defaults(flag)
            assert defaults, f"{page}:{number}: no command has {flag}"
            assert defaults == {float(value)}, (
                f"{page}:{number}: says {flag} defaults to {value}; the code says {defaults}")
        assert claims or not _ANY_DEFAULT.search(line), (
            f"{page}:{number}: a default this test does not check; say it as "
            "\"(`--flag`, N by default)\" or add its wording to _WORDED_DEFAULTS")


def test_the_comparison_page_states_the_rate_limit_and_workers_of_the_code() -> None:
    text = (ROOT / "docs" / "clusterctl-move-comparison.md").read_text(encoding="utf-8")
    assert f"({DEFAULT_WORKERS} by default)" in text
    assert f"({DEFAULT_QPS:g} requests per second with bursts of {DEFAULT_BURST} by default" in text


def test_the_demos_suggestions_parse_and_say_how_to_run_them() -> None:
    for line in (TRY_NEXT_SERVE, *TRY_NEXT_COMMANDS):
        argv = line.split()
        assert argv[0] == "movekit"
        assert parse_problem(argv[1:]) is None, line
        assert line in TRY_NEXT
    # `movekit` is on PATH only in an activated venv, and serve holds its terminal.
    assert "with the venv activated (. .venv/bin/activate)" in TRY_NEXT
    assert "second terminal" in TRY_NEXT
    assert TRY_NEXT.index(TRY_NEXT_SERVE) < TRY_NEXT.index("second terminal")


def test_pages_are_found() -> None:
    assert "README.md" in PAGES and len(PAGES) > 3
    assert all(isinstance(page, str) and (ROOT / Path(page)).is_file() for page in PAGES)


def test_the_missing_provider_hint_names_flags_that_exist() -> None:
    """A target without the source's providers is told how to install them, for a real
    cluster and for one movekit kubesim serves; the flag it names must exist."""
    from movekit.model import Provider
    from movekit.plan import PROVIDER_HINT, PlanOptions, _provider_problems

    (problem,) = _provider_problems([Provider("docker", "capd-system", "InfrastructureProvider",
                                              "v1.10.0")], [], PlanOptions(), [])
    assert PROVIDER_HINT in problem
    assert "clusterctl init" in PROVIDER_HINT
    assert "movekit kubesim serve" in PROVIDER_HINT and "--capi-providers" in PROVIDER_HINT
    assert has_option(("kubesim", "serve"), "--capi-providers")
