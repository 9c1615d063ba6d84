"""The report driver and the pipeline's guards, without running notebooks (nbval does that)."""

import pandas as pd
import pytest

from pdtlib.report import params as parameters
from pdtlib.report import pipeline
from pdtlib.report.params import load as load_params
from pdtlib.report.runner import main, notebooks, split_by_notebook
from pdtlib.system.runs import MissingInputError, run_dir


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
    assert "injected-parameters" in text and "max_passes = 160" in text


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


# ---------------------------------------------------------------- issue 11: honest parameters and run records

import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import papermill  # noqa: E402

from pdtlib.system import paths, runs  # noqa: E402


def test_smoke_shrinks_sizes_only_and_never_what_the_user_set(monkeypatch):
    params = load_params("params/iemocap.yaml", ["smoke=true", "iemocap_root=/nonexistent", "seed=7",
                                                 "max_passes=3200"])
    paper, smoke = parameters.layered("params/iemocap.yaml"), parameters.smoke_sizes()
    assert params["corpus"] == "iemocap" and params["iemocap_root"] == "/nonexistent" and params["seed"] == 7
    assert params["max_passes"] == 3200  # set by the user: kept
    assert {k: params[k] for k in smoke if k != "max_passes"} == {k: smoke[k] for k in smoke if k != "max_passes"}
    unchanged = set(paper) - set(smoke) - {"smoke", "run", "iemocap_root", "seed"}
    assert {k: params[k] for k in unchanged} == {k: paper[k] for k in unchanged}  # split, pdt_mode, lr, ...
    assert params["run"] == "iemocap-paper-smoke"  # never the full run's folder
    assert load_params("params/iemocap.yaml", ["smoke=true", "run=mine"])["run"] == "mine"
    # without smoke the file's values stand
    assert load_params("params/default.yaml", ["seed=2"]) == {**parameters.defaults(), "seed": 2}


def test_notebooks_take_the_drivers_values_as_they_are(monkeypatch):
    values = {**parameters.defaults(), "corpus": "manifest", "manifest": "/m.csv", "seed": 5, "smoke": True}
    alone = parameters.resolve(values)  # JupyterLab, nbval: the notebook applies the switch itself
    assert alone.max_passes == parameters.smoke_sizes()["max_passes"] and alone.smoke is True
    assert (alone.corpus, alone.manifest, alone.seed, alone.run) == ("manifest", "/m.csv", 5, "default-smoke")
    monkeypatch.setenv(parameters.RESOLVED_ENV, "1")  # under the report driver
    assert vars(parameters.resolve(values)) == values


def fake_papermill(monkeypatch, fail_in=(), calls=None):
    """papermill.execute_notebook replaced: records the notebook and its parameters, fails those named;
    01 records its corpus in run.json, as the real one does."""
    def execute_notebook(source, output, parameters, **kwargs):
        name = Path(source).stem
        if calls is not None:
            calls.append((name, dict(parameters), os.environ.get("PDT_PARAMS_RESOLVED")))
        if name == "01_data":
            runs.update_record(run_dir(parameters["run"]), corpus={"corpus": parameters["corpus"]})
        if any(name.startswith(f) for f in fail_in):
            raise papermill.PapermillExecutionError(3, 3, "x", "ValueError", "injected", [])

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def record(run="smoke") -> dict:
    return json.loads((paths.reports_dir() / run / "run.json").read_text())


def test_complete_means_every_notebook_succeeded_with_these_parameters(monkeypatch, capsys):
    with pytest.raises(SystemExit, match="--only 99 matches no notebook"):
        main(["--params", "params/smoke.yaml", "--only", "99"])
    assert not (paths.reports_dir() / "smoke" / "run.json").exists()  # refused before anything

    fake_papermill(monkeypatch, fail_in=("04",))
    with pytest.raises(SystemExit, match="04_svm_eval.ipynb failed"):
        main(["--params", "params/smoke.yaml"])
    assert record()["status"] == "failed in 04_svm_eval.ipynb"
    fake_papermill(monkeypatch)
    assert main(["--params", "params/smoke.yaml", *(a for nb in ("05", "06", "07", "08") for a in ("--only", nb))]) == 0
    assert record()["status"] == "incomplete: 04_svm_eval failed"  # was: complete
    assert main(["--params", "params/smoke.yaml", "--only", "04"]) == 0
    assert record()["status"] == "complete"
    assert main(["--params", "params/smoke.yaml", "--set", "seed=1", "--only", "08"]) == 0
    assert record()["status"] == ("incomplete: not run with these parameters: 01_data, 02_pairing, 03_train_pdt, "
                                  "04_svm_eval, 05_traditional_baselines, 06_tsne, 07_confusion_matrix")
    assert record()["params_hash"] == runs.params_hash(record()["params"]) and record()["params"]["seed"] == 1
    assert "the run is incomplete" in capsys.readouterr().out


def test_inputs_written_under_other_parameters_are_refused():
    run = run_dir("stale")
    runs.update_record(run, params_hash="first")
    runs.write_metrics(run, "data", {"pad": "repeat"})
    table = pipeline.save_table(run, pd.DataFrame({"utterance_id": ["a"]}))
    assert runs.read_metrics(run, "data", "01_data") == {"pad": "repeat"}
    runs.update_record(run, params_hash="second")  # a report with other parameters began
    with pytest.raises(runs.StaleInputError, match=r"metrics 'data' .* under other parameters \(hash first\) than "
                                                   r"the run's \(hash second.*run notebooks/01_data.ipynb again"):
        runs.read_metrics(run, "data", "01_data")
    with pytest.raises(runs.StaleInputError, match="run notebooks/01_data.ipynb again"):
        pipeline.run_table(run)
    assert table.with_name("corpus.csv.stamp").exists()


def test_a_notebook_run_by_hand_with_other_values_makes_them_the_runs(monkeypatch):
    params = load_params("params/smoke.yaml")
    fake_papermill(monkeypatch)
    main(["--params", "params/smoke.yaml"])
    before = record()
    assert before["status"] == "complete" and before["params_hash"] == runs.params_hash(params)
    pipeline.folder(parameters.resolve(params))  # JupyterLab, the same values: nothing changes
    assert record() == before
    pipeline.folder(parameters.resolve({**params, "pdt_margin": 0.2}))  # one value changed
    after = record()
    assert after["params"]["pdt_margin"] == 0.2 and after["params_hash"] != before["params_hash"]
    assert after["status"] == "incomplete: pdt_margin changed by a notebook run outside the report"


def test_bad_values_fail_before_the_first_notebook(monkeypatch):
    calls = []
    fake_papermill(monkeypatch, calls=calls)
    argv = ["--params", "params/smoke.yaml", "--set", "pdt_lam=2", "--set", "svm_refit_on=val",
            "--set", "tsne_perplexity=0", "--set", "encoder_input_norm=bin", "--set", "baseline_lr=[]",
            "--set", "pad=mirror", "--set", "baseline_batch_size=2.5", "--set", "split=loso:9"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    message = str(exc.value)
    for text in ("pdt_mode, pdt_lam, pdt_margin, pdt_lr, pdt_batch_size, pdt_warmup, pdt_select_on, max_passes, "
                 "eval_every, patience, min_epochs, recalibrate_bn, precision, seed: lam (λ of eq. 1) = 2",
                 "svm_refit_on: 'val': choose one of", "tsne_perplexity: 0 must be > 0",
                 "input_norm must be one of", "baseline_lr is empty", "pad must be 'repeat' or 'zero'",
                 "baseline_batch_size: 2.5 must be a whole number", "split 'loso:9'"):
        assert text.lower() in message.lower(), (text, message)
    assert calls == [] and not (paths.reports_dir() / "smoke").exists()


def test_the_iemocap_root_is_checked_before_any_notebook(monkeypatch):
    calls = []
    fake_papermill(monkeypatch, calls=calls)
    with pytest.raises(SystemExit, match="IEMOCAP root /nonexistent is not a folder"):
        main(["--params", "params/iemocap.yaml", "--set", "smoke=true", "--set", "iemocap_root=/nonexistent"])
    assert calls == []


@pytest.mark.parametrize("text, found", [
    ("- seed: 1\n- run: x\n", r"params\.yaml, line 1: holds a list, not a mapping"),
    ("# a comment\n\n42\n", r"params\.yaml, line 3: holds a int, not a mapping"),
    ("seed: 1\nrun: [unclosed\n", r"params\.yaml, line 3: not valid YAML"),
    ("seed: 1\n\trun: x\n", r"params\.yaml, line 2: not valid YAML"),
])
def test_a_params_file_that_is_not_a_mapping_names_its_file_and_line(tmp_path, text, found):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ValueError, match=f"parameter file {tmp_path}/{found}"):
        parameters.read_file(tmp_path / "params.yaml")
    with pytest.raises(SystemExit, match=found):
        main(["--params", str(tmp_path / "params.yaml")])


HOLD_THE_LOCK = """
import sys
from pdtlib.system.runs import lock_run, run_dir
with lock_run(run_dir("smoke"), "params/first.yaml"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


def test_a_second_report_into_the_same_run_is_refused_naming_the_first(monkeypatch):
    import pdtlib

    calls = []
    fake_papermill(monkeypatch, calls=calls)
    env = {**os.environ, "PYTHONPATH": str(Path(pdtlib.__file__).parents[1])}
    first = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=env, text=True)
    try:
        assert first.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit, match=rf"is being written by another report \(pid {first.pid} on "
                                             rf"{socket.gethostname()}, started .*, parameters params/first.yaml\)"):
            main(["--params", "params/smoke.yaml"])
        assert calls == []
    finally:
        first.stdin.close()
        first.wait(timeout=30)
    assert main(["--params", "params/smoke.yaml"]) == 0 and len(calls) == 8  # the first one ended: free


def test_a_notebook_run_by_hand_into_a_run_being_written_is_refused():
    params = parameters.resolve(load_params("params/smoke.yaml"))
    with runs.lock_run(run_dir("smoke"), "params/smoke.yaml"):  # a report holds the folder
        with pytest.raises(runs.RunLockedError, match=f"pid {os.getpid()} .*parameters params/smoke.yaml"):
            pipeline.folder(params)
    assert pipeline.folder(params) == run_dir("smoke")


def test_run_json_is_the_same_on_every_run_with_the_same_results(monkeypatch):
    fake_papermill(monkeypatch)
    main(["--params", "params/smoke.yaml"])
    folder = paths.reports_dir() / "smoke"
    first, local = (folder / "run.json").read_bytes(), json.loads((folder / "run.local.json").read_text())
    main(["--params", "params/smoke.yaml"])
    assert (folder / "run.json").read_bytes() == first
    text = first.decode()
    assert all(f'"{key}"' not in text for key in ("wall_s", "notebooks_wall_s", "recorded_at", "host", "pid"))
    assert {"host", "pid", "recorded_at", "notebooks_wall_s"} <= set(local) and len(local["notebooks"]) == 8


def test_make_passes_paths_with_spaces_whole(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-C", str(paths.PROJ_ROOT), "report", "MANIFEST=/tmp/my corpus.csv",
                          "IEMOCAP_ROOT=relative dir/IEMOCAP", "RUN=it's mine", "SET=seed=3 max_passes=64"],
                         capture_output=True, text=True, timeout=60)
    [line] = [l for l in out.stdout.splitlines() if "-m pdtlib.report" in l]
    args = shlex.split(line)
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert sets == ["run=it's mine", "iemocap_root=relative dir/IEMOCAP", "manifest=/tmp/my corpus.csv", "seed=3",
                    "max_passes=64"]
    params = load_params(args[args.index("--params") + 1], sets)  # what the report then makes of them
    assert params["manifest"] == "/tmp/my corpus.csv"
    assert params["iemocap_root"] == str(Path.cwd() / "relative dir" / "IEMOCAP") and params["run"] == "it's mine"
