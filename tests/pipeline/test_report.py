"""The report driver and the pipeline's guards, without running notebooks (nbval does that)."""

import pytest

from pdtlib import params as parameters
from pdtlib import pipeline
from pdtlib.params import load as load_params
from pdtlib.report import main, notebooks, split_by_notebook
from pdtlib.runs import MissingInputError, run_dir


def test_overrides_are_typed_as_yaml_scalars():
    params = load_params("params/default.yaml", ["seed=3", "pdt_lr=1e-4", "iemocap_root=/data/IEMOCAP",
                                                 "baseline_durations=[4.0, 7.0]", "smoke=true"])
    assert params["seed"] == 3 and params["pdt_lr"] == [pytest.approx(1e-4)]  # a grid of one learning rate
    assert params["iemocap_root"] == "/data/IEMOCAP" and params["baseline_durations"] == [4.0, 7.0]
    assert params["smoke"] is True


def test_another_corpus_never_overwrites_the_default_run():
    assert load_params("params/default.yaml", ["corpus=manifest", "manifest=/x.csv"])["run"] == "default-manifest"
    assert load_params("params/default.yaml", ["corpus=manifest", "run=mine"])["run"] == "mine"
    assert load_params("params/default.yaml", ["seed=2"])["run"] == "default"


def test_a_misspelt_parameter_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['iemocap_rot'\].*iemocap_root"):
        load_params("params/default.yaml", ["iemocap_rot=/data"])
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['iemocap_rot'\].*iemocap_root"):
        split_by_notebook({"iemocap_rot": "/data"}, notebooks())
    with pytest.raises(SystemExit, match=r"report: .*unknown parameter\(s\) \['iemocap_rot'\]"):
        main(["--set", "iemocap_rot=/data", "--prepare-only", "/nonexistent"])


def test_each_notebook_receives_only_what_it_declares():
    per_book = split_by_notebook(load_params("params/default.yaml"), notebooks())
    confusion = next(v for k, v in per_book.items() if k.name.startswith("07"))
    assert set(confusion) == {"run", "smoke"}


def test_prepare_only_injects_parameters_without_running(tmp_path):
    assert main(["--params", "params/smoke.yaml", "--prepare-only", str(tmp_path)]) == 0
    prepared = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert prepared == [b.name for b in notebooks()]
    text = (tmp_path / "03_train_pdt.ipynb").read_text()
    assert "injected-parameters" in text and "pdt_epochs = 2" in text


@pytest.mark.parametrize("step, notebook", [
    (lambda run: pipeline.run_table(run), "01_data"),
    (lambda run: pipeline.load_pdt_encoder(run), "03_train_pdt"),
    (lambda run: pipeline.load_vectors(run), "04_svm_eval"),
])
def test_a_missing_input_names_the_notebook_to_run_first(step, notebook):
    with pytest.raises(MissingInputError, match=f"run notebooks/{notebook}.ipynb first"):
        step(run_dir("empty"))


def test_missing_corpus_settings_say_what_to_pass():
    params = parameters.resolve({**parameters.defaults(), "corpus": "iemocap"})
    with pytest.raises(ValueError, match="IEMOCAP_ROOT="):
        pipeline.corpus_table(params)
    params = parameters.resolve({**parameters.defaults(), "corpus": "manifest"})
    with pytest.raises(ValueError, match="MANIFEST="):
        pipeline.corpus_table(params)
