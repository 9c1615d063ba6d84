"""What a reader of the executed notebooks sees: every figure inline, no warnings, a result in words.

Runs the smoke report once (papermill, as `make report` does; about a minute and a half) into a
temporary reports folder and reads the executed notebooks it writes.
"""

import json
import re

import pytest

from pdtlib.report import runner as report

FIGURE_CALL = re.compile(r"\bplots\.plot_\w+\(")
WARNING = re.compile(r"warn", re.IGNORECASE)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    base = tmp_path_factory.mktemp("executed")
    with pytest.MonkeyPatch.context() as env:
        for name in ("PDT_DATA", "PDT_CACHE", "PDT_REPORTS"):
            env.setenv(name, str(base / name.lower()))
        env.setenv("PDT_PROGRESS", "0")
        assert report.main(["--params", "params/smoke.yaml"]) == 0
    folder = base / "pdt_reports" / "smoke" / "notebooks"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.ipynb"))}


def outputs_text(cell) -> str:
    """Everything a code cell printed or displayed as text (streams, errors, plain and markdown)."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts += ["".join(out.get("data", {}).get(kind, "")) for kind in ("text/plain", "text/markdown")]
        parts += out.get("traceback", [])
    return "\n".join(parts)


def test_the_report_ran_every_notebook(executed):
    assert list(executed) == [book.stem for book in report.notebooks()]


def test_every_figure_is_shown_where_it_is_made(executed):
    figure_cells = 0
    for name, nb in executed.items():
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and FIGURE_CALL.search("".join(cell["source"])):
                figure_cells += 1
                kinds = {kind for out in cell.get("outputs", []) for kind in out.get("data", {})}
                assert kinds & {"image/png", "image/svg+xml"}, f"{name}: a figure cell shows no image ({kinds})"
                as_text_only = [out for out in cell.get("outputs", []) if "image/png" not in out.get("data", {})
                                and "<Figure size" in "".join(out.get("data", {}).get("text/plain", ""))]
                assert not as_text_only, f"{name}: a figure shown only as its text repr"
    assert figure_cells >= 8  # 01 (2), 02, 03, 05, 06, 07, 08


def test_no_cell_output_holds_a_warning(executed):
    for name, nb in executed.items():
        for cell in nb["cells"]:
            text = outputs_text(cell)
            assert not WARNING.search(text), f"{name}: a warning in the output of\n{''.join(cell['source'])}\n{text}"


def test_each_notebook_ends_with_its_result_in_words(executed):
    for name, nb in executed.items():
        words = [out["data"]["text/markdown"] for out in nb["cells"][-1].get("outputs", [])
                 if "text/markdown" in out.get("data", {})]
        assert words and len("".join(words[-1])) > 40, f"{name}: the last cell says nothing in words"
        assert re.search(r"\d", "".join(words[-1])), f"{name}: the words carry no number"
