"""Table 3: the paper's rows 1-5 beside this run's, then this project's rows 6-7, read from the
metrics the notebooks wrote (artefacts registry) and written as CSV and titled markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import artefacts
from ...system.atomic import atomic_path, write_text
from ...evaluation.evaluate import PAPER_TABLE3

# Rows 6-7 separate the method's effect from the classifier's: the cross-entropy encoder through
# the same SVM as row 5, and the classic hand-crafted reference through it. `metrics`: the file each reads.
TABLE3_ROWS = [
    *({**row, "metrics": "pdt_svm" if row["method"] != "traditional" else f"traditional_{row['duration']:g}s"}
      for row in PAPER_TABLE3),
    {"exp": 6, "method": "traditional encoder + SVM", "duration": 4.0, "paper_ua": float("nan"),
     "metrics": "traditional_encoder_svm"},
    {"exp": 7, "method": "eGeMAPS + SVM", "duration": float("nan"), "paper_ua": float("nan"),
     "metrics": "egemaps_svm"},
]


def write_table(run: Path, name: str, table: pd.DataFrame, title: str, notes: tuple[str, ...] = (),
                shown: pd.DataFrame | None = None) -> Path:
    """reports/<run>/<name>.csv (every column of `table`) and <name>.md (a titled markdown table of
    `shown`, default `table`, with notes)."""
    with atomic_path(run / f"{name}.csv") as tmp:
        table.to_csv(tmp, index=False)
    shown = table if shown is None else shown
    text = "\n".join([f"# {title}", "", shown.to_markdown(index=False, floatfmt=".2f"), "", *notes])
    write_text(run / f"{name}.md", text.rstrip() + "\n")
    return run / f"{name}.md"


def table3(run: Path, p) -> pd.DataFrame:
    """Table 3's seven rows with this run's UA, WA and macro-F1 (percent), the classes each row
    predicts on test and what was chosen on validation, from the metrics of 01, 04 and 05.

    A row that was not run (a duration left out of `baseline_durations`) stays empty (NaN)."""
    data = artefacts.read(run, "data")
    corpus = data["corpus"]
    tested = data.get("test", {}).get("description", "")  # a cross-corpus run: what trained, what tested
    durations = [float(d) for d in p.baseline_durations]
    rows = []
    for row in TABLE3_ROWS:
        run_here = row["method"] != "traditional" or row["duration"] in durations  # a stale file is not this run's
        path = run / "metrics" / f"{row['metrics']}.json"
        m = artefacts.read(run, row["metrics"]) if run_here and path.exists() else {}
        percent = {k: round(100 * m[k], 2) if k in m else float("nan") for k in ("ua", "wa", "f1")}
        seconds = f", {row['duration']:g} s" if row["duration"] == row["duration"] else ""  # NaN: whole utterances
        notes = "; ".join(m.get("notes", []))
        trained = m.get("training", {})
        rows.append({**{k: v for k, v in row.items() if k != "metrics"}, **percent,
                     "classes_predicted": m.get("classes_predicted", float("nan")),
                     "steps": trained.get("steps", float("nan")), "passes": trained.get("passes", float("nan")),
                     "stopped": trained.get("stopped", ""),
                     # the model that made the row: the PDT's run, a traditional row's final run on train + val
                     "train_acc": trained.get("final", trained).get("train_acc", float("nan")),
                     "selected_on_val": m.get("selection", ""),
                     "notes": f"Exp {row['exp']} ({row['method']}{seconds}): {notes}" if notes else "",
                     "corpus": corpus, "test_corpus": tested, "protocol": m.get("protocol", ""), "seed": p.seed})
    return pd.DataFrame(rows)


def write_table3(run: Path, table: pd.DataFrame, notes: tuple[str, ...] = ()) -> Path:
    """reports/<run>/table3.csv and table3.md: the paper's UA beside this run's UA, WA and
    macro-F1, with the corpus, the protocol, the definitions and every row's quality notes."""
    first = table.dropna(subset=["ua"]).iloc[0] if table["ua"].notna().any() else table.iloc[0]
    cross = first.get("test_corpus", "")
    cross = cross if isinstance(cross, str) else ""  # NaN in a table read back from an older table3.csv
    notes = (f"Corpus: {first['corpus']}; {first['protocol']}; seed {first['seed']}.", *([cross] if cross else []),
             "UA = mean per-class recall (balanced accuracy); WA = plain accuracy; macro-F1 = mean per-class F1; "
             "all on the test split, in %. Rows 6-7 are this project's: the same SVM selection as row 5 on "
             "other vectors. Steps and passes (utterances encoded) are the training run validation chose in, to "
             "where it stopped: the PDT's, and each traditional row's selection run (its final run on train + val "
             "trains for the passes chosen, and at least min_epochs epochs of train + val); both methods have the same cap (max_passes).", *notes, *(n for n in table["notes"] if n))
    shown = table[["exp", "method", "duration", "paper_ua", "ua", "wa", "f1", "classes_predicted", "steps", "passes",
                   "selected_on_val"]].rename(columns={
        "exp": "Exp", "method": "Method", "duration": "Duration (s)", "paper_ua": "Paper UA", "ua": "UA",
        "wa": "WA", "f1": "Macro-F1", "classes_predicted": "Classes predicted", "steps": "Steps",
        "passes": "Passes", "selected_on_val": "Chosen on validation"})
    shown[["Steps", "Passes"]] = shown[["Steps", "Passes"]].map(lambda v: f"{v:,.0f}" if v == v else "")
    return write_table(run, "table3", table, f"Table 3: the test split, run `{run.name}`",
                       tuple(f"- {n}" for n in notes), shown)
