from pathlib import Path

from pdtlib.system import paths


def test_defaults_hang_off_the_project_root(monkeypatch, tmp_path):
    for name in ("PDT_DATA", "PDT_CACHE", "PDT_REPORTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    assert paths.PROJ_ROOT == Path(paths.__file__).resolve().parents[2]  # pdtlib/system/paths.py
    assert paths.data_dir() == paths.PROJ_ROOT / "data"
    assert paths.cache_dir() == paths.PROJ_ROOT / ".cache"
    assert paths.reports_dir() == paths.PROJ_ROOT / "reports"


def test_environment_variables_override(monkeypatch, tmp_path):
    monkeypatch.setenv("PDT_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("PDT_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("PDT_REPORTS", str(tmp_path / "r"))
    assert paths.data_dir() == tmp_path / "d"
    assert paths.cache_dir() == tmp_path / "c"
    assert paths.reports_dir() == tmp_path / "r"
