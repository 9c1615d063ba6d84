"""The notebooks as files: what papermill, nbval and git need of them (docs/protocol.md, section 5)."""

import json

import pytest
import yaml

from pdtlib.system import paths
from pdtlib import study as studies
from pdtlib.report.runner import CROSS_NOTEBOOK, STUDY_NOTEBOOK, TABLE2_NOTEBOOK, declared_parameters, notebooks

BOOKS = notebooks()  # one run's notebooks
SUMMARIES = (STUDY_NOTEBOOK, TABLE2_NOTEBOOK, CROSS_NOTEBOOK)
ALL_BOOKS = [*BOOKS, *(paths.NOTEBOOKS / book for book in SUMMARIES)]  # and the studies' summaries
STUDY_FILES = sorted(paths.PARAMS.glob("study-*.yaml"))
PARAM_FILES = sorted(set(paths.PARAMS.glob("*.yaml")) - set(STUDY_FILES))


def cells(book):
    return json.loads(book.read_text())["cells"]


def test_the_eight_numbered_notebooks_exist():
    assert [b.name[:3] for b in BOOKS] == ["01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_"]
    assert (paths.NOTEBOOKS / STUDY_NOTEBOOK).exists()  # not part of a run: `make study` runs it


@pytest.mark.parametrize("study", STUDY_FILES, ids=lambda p: p.name)
def test_every_study_file_expands_into_checked_runs(study):
    loaded = studies.load_study(study)
    cells = loaded.cells()  # each cell's parameters through params.load: the same checks as a report
    assert len(cells) == len(loaded.points()) * len(loaded.seeds) * len(loaded.folds)  # one point without a grid
    assert len({v["run"] for v in cells.values()}) == len(cells)


def test_the_fp32_default_study_is_the_default_study_in_fp32():
    # reports/compare/between.md pairs them cell by cell: they must differ in precision alone
    bf16, fp32 = (studies.load_study(paths.PARAMS / f"{name}.yaml") for name in ("study-default", "study-default-fp32"))
    assert fp32.overrides == {**bf16.overrides, "precision": "fp32"} and "precision" not in bf16.overrides
    assert (fp32.seeds, fp32.base) == (bf16.seeds, bf16.base) and set(fp32.folds) <= set(bf16.folds)
    assert set(fp32.cells()) <= set(bf16.cells())  # the same cell names, which is what pairs them


def test_the_study_notebook_defaults_to_the_default_study():
    declared = declared_parameters(paths.NOTEBOOKS / STUDY_NOTEBOOK)
    assert yaml.safe_load(declared["study_file"]["default"]) == "params/study-default.yaml"


def test_the_table2_notebook_summarises_the_table2_study_and_is_no_part_of_a_run():
    assert (paths.NOTEBOOKS / TABLE2_NOTEBOOK).exists() and paths.NOTEBOOKS / TABLE2_NOTEBOOK not in BOOKS
    declared = declared_parameters(paths.NOTEBOOKS / TABLE2_NOTEBOOK)
    assert yaml.safe_load(declared["study_file"]["default"]) == "params/study-table2.yaml"
    study = studies.load_study(paths.PARAMS / "study-table2.yaml")
    assert study.has_points() and study.notebooks == ["01", "02", "03", "04"]
    assert len(study.cells()) == 60 and {"m0.1-lam0.9-loso5-seed0", "m0.1-lam0.9-loso5-seed1"} <= set(study.cells())


@pytest.mark.parametrize("book", ALL_BOOKS, ids=lambda b: b.stem)
def test_one_parameters_cell_no_outputs_kernel_python3(book):
    nb = json.loads(book.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{book.name}: {len(tagged)} cells tagged 'parameters'"
    assert tagged[0]["cell_type"] == "code"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") for c in code), f"{book.name} has stored outputs: run nbstripout"
    assert all(c.get("execution_count") is None for c in code), f"{book.name} has execution counts"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("book", ALL_BOOKS, ids=lambda b: b.stem)
def test_opens_with_markdown_and_ends_with_asserts(book):
    nb = cells(book)
    assert nb[0]["cell_type"] == "markdown"
    assert "assert " in "".join(nb[-1]["source"]), f"{book.name}: the last cell should check its outputs"


@pytest.mark.parametrize("book", BOOKS, ids=lambda b: b.stem)
def test_notebook_defaults_are_the_default_params(book):
    """Stepping through a notebook in JupyterLab runs what `make report` runs by default."""
    default = yaml.safe_load((paths.PARAMS / "default.yaml").read_text())
    for name, spec in declared_parameters(book).items():
        assert name in default, f"{book.name}: parameter {name} is not in params/default.yaml"
        assert yaml.safe_load(spec["default"]) == default[name], f"{book.name}: {name} differs from default.yaml"


@pytest.mark.parametrize("params", PARAM_FILES, ids=lambda p: p.name)
def test_every_parameter_file_key_is_declared_by_a_notebook(params):
    declared = set().union(*(declared_parameters(b) for b in BOOKS))
    values = yaml.safe_load(params.read_text())
    values.pop("base", None)  # what the file is laid over, not a parameter
    assert set(values) <= declared, f"{params.name}: {sorted(set(values) - declared)} not in any notebook"


@pytest.mark.parametrize("params", [p for p in PARAM_FILES if p.name != "default.yaml"], ids=lambda p: p.name)
def test_parameter_files_state_only_what_differs_from_their_base(params):
    """nanoGPT's way: a file names its base and restates nothing of it."""
    values = yaml.safe_load(params.read_text())
    assert values.pop("base") == "params/default.yaml"
    default = yaml.safe_load((paths.PARAMS / "default.yaml").read_text())
    same = sorted(k for k, v in values.items() if default[k] == v)
    assert not same, f"{params.name}: {same} equal params/default.yaml's; leave them out"


@pytest.mark.parametrize("book", ALL_BOOKS, ids=lambda b: b.stem)
def test_papermill_parses_every_parameter_line(book):
    """papermill silently skips a line it cannot parse (e.g. '=' inside a comment): its
    parameter then cannot be set from params/*.yaml."""
    cell = next(c for c in cells(book) if "parameters" in c.get("metadata", {}).get("tags", []))
    assignments = [l for l in "".join(cell["source"]).splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert len(declared_parameters(book)) == len(assignments)


def test_the_cross_corpus_notebook_summarises_the_cross_corpus_study():
    assert (paths.NOTEBOOKS / CROSS_NOTEBOOK).exists() and paths.NOTEBOOKS / CROSS_NOTEBOOK not in BOOKS
    declared = declared_parameters(paths.NOTEBOOKS / CROSS_NOTEBOOK)
    assert yaml.safe_load(declared["study_file"]["default"]) == "params/study-cross-corpus.yaml"
    study = studies.load_study(paths.PARAMS / "study-cross-corpus.yaml")
    assert study.is_cross_corpus() and len(study.seeds) >= 3
    assert list(study.points()) == ["first", "first-to-second", "second", "second-to-first"]
