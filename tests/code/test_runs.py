"""Run records: what `runs.git_commit` asks of git."""

import subprocess

import pytest

from pdtlib.system import paths, runs


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A repository whose notebooks go through an nbstripout filter that leaves a mark when it runs."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / ".gitattributes").write_text("*.ipynb filter=nbstripout\n")
    (repo / "a.ipynb").write_text("{}\n")
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    mark = tmp_path / "filter-ran"
    git(repo, "config", "filter.nbstripout.clean", f"touch {mark}; cat")
    return repo, mark


def test_the_git_record_never_runs_the_notebook_filter(repo, monkeypatch):
    """In a fresh clone git would run the filter on every notebook at each status (seconds each)."""
    root, mark = repo
    monkeypatch.setattr(paths, "PROJ_ROOT", root)
    (root / "a.ipynb").touch()  # stat-dirty: git must look at the content
    record = runs.git_commit.__wrapped__()
    assert record == {"commit": git(root, "rev-parse", "HEAD"), "dirty": False}
    assert not mark.exists()
    (root / "code.py").write_text("x = 2\n")
    assert runs.git_commit.__wrapped__()["dirty"] is True
