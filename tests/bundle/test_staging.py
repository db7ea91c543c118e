"""Files are created safely: nothing at a name someone could prepare is followed or reused, and
the staging a killed run left behind is removed by the next run, or reported."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from movekit.bundle import BundleWriter, read_bundle
from movekit.bundle.clusterctl import write_clusterctl_directory
from movekit.bundle.staging import Staging, sweep
from movekit.errors import UsageError
from movekit.journal import ClusterAccess, Journal, Phase
from tests.bundle.bundle_samples import write_sample

VICTIM = b"someone else's file\n"
NOBODY = 65534

Writer = Callable[[Path], object]


def _bundle(target: Path) -> object:
    return write_sample(target)


def _archive(target: Path) -> object:
    return write_sample(target, archive=True)


def _clusterctl(target: Path) -> list[Path]:
    cluster = {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
               "metadata": {"name": "c1", "namespace": "ns", "uid": "u1"}}
    return write_clusterctl_directory(target, [cluster])


WRITERS = {"bundle": (_bundle, "bundle"), "archive": (_archive, "bundle.tar.zst"),
           "clusterctl": (_clusterctl, "clusterctl")}


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    victim.write_bytes(VICTIM)
    return victim


def _staging_names(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.startswith("."))


@pytest.mark.parametrize("kind", WRITERS)
def test_a_symlink_at_the_target_is_refused_and_its_target_untouched(
    kind: str, tmp_path: Path
) -> None:
    write, name = WRITERS[kind]
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        write(out / name)
    assert victim.read_bytes() == VICTIM
    assert os.listdir(out) == [name]


@pytest.mark.parametrize("kind", WRITERS)
@pytest.mark.parametrize("prepared", ["symlink", "file", "directory"])
def test_names_of_earlier_versions_prepared_beside_the_target_are_never_used(
    kind: str, prepared: str, tmp_path: Path
) -> None:
    """``FILE.tmp`` (the archive's partial name before) and staging names of a form that
    records no owner: a link there is not followed, a file not reused; both are reported."""
    write, name = WRITERS[kind]
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    planted = [out / f"{name}.tmp", out / f".{name}.abcd1234.tmp", out / f".{name}.0badc0de.old"]
    for path in planted:
        if prepared == "symlink":
            path.symlink_to(victim)
        elif prepared == "file":
            path.write_bytes(VICTIM)
        else:
            path.mkdir()

    result = write(out / name)

    assert victim.read_bytes() == VICTIM
    assert all(os.path.lexists(p) for p in planted)
    if prepared == "file":
        assert all(p.read_bytes() == VICTIM for p in planted)
    if kind == "clusterctl":
        assert sorted(result) == sorted(planted)  # type: ignore[arg-type]
    else:
        read_bundle(out / name)  # complete and valid
    assert sorted(os.listdir(out)) == sorted([name, *(p.name for p in planted)])


@pytest.mark.parametrize("kind", WRITERS)
def test_a_dead_runs_staging_is_removed_a_live_one_kept_and_a_planted_link_not_followed(
    kind: str, tmp_path: Path
) -> None:
    write, name = WRITERS[kind]
    out = tmp_path / "out"
    out.mkdir()
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "keep").write_bytes(VICTIM)
    dead = Staging(out / name)
    (dead.path / "half-written").write_bytes(b"x")
    dead.release()  # as the kernel does when its process dies
    live = Staging(out / name)
    link = out / f".{name}.movekit-1-aaaaaaaa.tmp"
    link.symlink_to(victim_dir, target_is_directory=True)

    write(out / name)

    assert not dead.path.exists()
    assert live.path.is_dir(), "a live run's staging is never touched"
    assert (victim_dir / "keep").read_bytes() == VICTIM and link.is_symlink()
    assert sorted(os.listdir(out)) == sorted([name, live.path.name, link.name])
    live.remove()


@pytest.mark.skipif(os.geteuid() != 0, reason="gives a directory to another user (needs root)")
def test_another_users_staging_is_reported_and_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    theirs = Staging(out / "bundle")
    theirs.release()
    os.chown(theirs.path, NOBODY, NOBODY)

    assert sweep(out / "bundle") == [theirs.path]
    with BundleWriter(out / "bundle") as writer:
        assert writer.leftovers == [theirs.path]
    assert theirs.path.is_dir()


def test_staging_is_0700_and_named_after_its_target_and_process(tmp_path: Path) -> None:
    staged = Staging(tmp_path / "bundle")
    assert stat.S_IMODE(staged.path.lstat().st_mode) == 0o700
    assert staged.path.name.startswith(f".bundle.movekit-{os.getpid()}-")
    assert staged.path.name.endswith(".tmp")
    staged.remove()
    assert os.listdir(tmp_path) == []


def _journal(path: Path) -> Journal:
    access = ClusterAccess(None, None, "https://example:6443")
    return Journal(path=path, source=access, target=access, selection={"namespace": "ns",
                   "clusters": []}, bundle_path=str(path.with_suffix(".bundle")))


@pytest.mark.parametrize("prepared", ["symlink", "dangling symlink", "file"])
def test_a_new_journal_refuses_whatever_is_at_its_name_and_never_follows_it(
    prepared: str, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    path = tmp_path / "move.journal.json"
    if prepared == "symlink":
        path.symlink_to(victim)
    elif prepared == "dangling symlink":
        path.symlink_to(tmp_path / "nowhere")
    else:
        path.write_bytes(VICTIM)
    journal = _journal(path)

    with pytest.raises(UsageError, match="exists already"):
        journal.advance(Phase.PLANNED)

    assert victim.read_bytes() == VICTIM
    assert not (tmp_path / "nowhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "move.journal.json"]


def test_a_journal_is_0600_and_its_later_saves_replace_it(tmp_path: Path) -> None:
    path = tmp_path / "move.journal.json"
    journal = _journal(path)
    journal.advance(Phase.PLANNED)
    journal.advance(Phase.PAUSING)
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert Journal.load(path).phase == Phase.PAUSING
    Journal.load(path).advance(Phase.EXPORTED)  # a resumed move saves over its own journal
    assert Journal.load(path).phase == Phase.EXPORTED
    assert os.listdir(tmp_path) == ["move.journal.json"]
