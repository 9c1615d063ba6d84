"""A 2-cell study end to end through Ray's local instance: two smoke reports as Ray tasks, then
notebook 09_study's table, paired comparisons and figure (about three minutes on two cores)."""

import json

import pandas as pd
import pytest

from pdtlib.system import paths
from pdtlib import study as studies

ray = pytest.importorskip("ray", reason="ray is the cluster extra: pip install '.[cluster]' (make test installs it)")


@pytest.fixture
def local_ray(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a local instance, whatever the shell says
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_two_cells_on_ray_make_a_study_table(tmp_path, local_ray):
    path = tmp_path / "study-tiny.yaml"
    path.write_text(json.dumps({"study": "tiny-study", "base": "params/smoke.yaml", "seeds": [0, 1],
                                "folds": ["loso:5"], "set": {"baseline_durations": [4.0]},
                                "resources": {"num_cpus": 1, "num_gpus": 0}}))
    study = studies.load_study(path)
    table = studies.run_study(study, progress_enabled=False)
    assert table["status"].tolist() == ["complete", "complete"], table["error"].tolist()
    folder = paths.reports_dir() / "tiny-study"
    for cell in ("loso5-seed0", "loso5-seed1"):  # ordinary run folders: every notebook and pdt command works
        assert (folder / cell / "table3.md").exists() and (folder / cell / "model" / "bundle.json").exists()
        assert json.loads((folder / cell / "run.json").read_text())["params"]["seed"] == int(cell[-1])
    seeds = [pd.read_csv(folder / cell / "table3.csv").set_index("exp").at[5, "ua"] for cell in ("loso5-seed0", "loso5-seed1")]

    studies.summarise_notebook(study)
    summary = pd.read_csv(folder / "table3_study.csv").set_index("exp")
    assert summary.at[5, "ua_n"] == 2 and summary.at[5, "ua_mean"] == pytest.approx(sum(seeds) / 2)
    paired = pd.read_csv(folder / "paired.csv")
    assert set(paired["exp"]) == {1, 6, 7} and (paired["n"] == 2).all()
    assert (folder / "figures" / "study.png").exists()

    again = studies.run_study(study, progress_enabled=False)  # a rerun skips both cells
    assert again["skipped"].all()
