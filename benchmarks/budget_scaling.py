"""Do the training budgets follow the corpus's size? Reports on corpora made smaller and larger.

    .venv/bin/python benchmarks/budget_scaling.py [--sizes synthetic:0.05 synthetic:0.5 emodb:half]
                                                   [--manifest ../shared/data/emodb4/manifest.csv]

Each size is an ordinary report (`python -m pdtlib.report`, default parameters, the 4 s rows only:
Table 3 rows 1, 5, 6, 7) into `reports/budget-<size>/`:

    synthetic:F   the generated corpus at F x IEMOCAP's 5531 utterances (the default report is 0.15)
    emodb:full    the EmoDB development copy as it is (6 training speakers)
    emodb:half    the same with every second training speaker left out (3 of 6, sorted by id);
                  validation and test are untouched, so the rows stay comparable with emodb:full

The budget is in encoder passes (max_passes, the same cap for both methods), and training stops
after `patience` evaluations without improvement on validation. If the budgets follow the corpus,
the passes chosen grow with the training set, the epochs they amount to stay in a sane range, and
no run ends at the cap without a note. The script prints, per size and trained row: training
utterances, steps, passes (the whole run; the checkpoint chosen is on the selected_on_val line),
epochs, why training stopped, training accuracy at the end, UA, and the notes Table 3 carries. The EmoDB sizes are skipped with a message when the copy is absent.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from pdtlib.system import paths

DEFAULT_MANIFEST = paths.PROJ_ROOT.parent / "shared" / "data" / "emodb4" / "manifest.csv"
TRAINED_ROWS = [1, 5, 6]  # traditional 4 s, PDT + SVM, traditional encoder + SVM


def half_manifest(manifest: Path, out: Path) -> Path:
    """`manifest` with every second training speaker (sorted by id) left out; paths made absolute."""
    table = pd.read_csv(manifest)
    train_speakers = sorted(table.loc[table["split"] == "train", "speaker"].unique())
    dropped = set(train_speakers[1::2])
    table = table[~table["speaker"].isin(dropped)].copy()
    table["path"] = [str(p if Path(p).is_absolute() else (manifest.parent / p).resolve()) for p in table["path"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"emodb:half: training speakers {sorted(set(train_speakers) - dropped)} of {train_speakers}")
    return out


def overrides_for(size: str, manifest: Path) -> list[str] | None:
    """Report overrides for one size, or None when its corpus is absent."""
    kind, _, value = size.partition(":")
    if kind == "synthetic":
        return [f"synthetic_scale={float(value)}"]
    if kind == "emodb":
        if not manifest.is_file():
            print(f"skipped {size}: no EmoDB copy at {manifest} (kept outside the repository; --manifest)")
            return None
        if value == "half":
            manifest = half_manifest(manifest, paths.reports_dir() / f"budget-{size.replace(':', '-')}" / "manifest.csv")
        elif value != "full":
            raise SystemExit(f"unknown size {size!r}: emodb:full or emodb:half")
        return ["corpus=manifest", f"manifest={manifest.resolve()}"]
    raise SystemExit(f"unknown size {size!r}: synthetic:F (a fraction of IEMOCAP's size), emodb:full or emodb:half")


def summary(run: str) -> pd.DataFrame:
    """The trained rows of one report's Table 3, with the training split's size and epochs."""
    report = paths.reports_dir() / run
    table = pd.read_csv(report / "table3.csv")
    counts = pd.read_csv(report / "table1.csv")
    n_train = int(counts.loc[counts["split"] == "train", "total"].sum()) if "split" in counts else None
    rows = table[table["exp"].isin(TRAINED_ROWS + [7])].copy()
    rows.insert(0, "train_utts", n_train)
    rows["epochs"] = rows["passes"] / n_train if n_train else float("nan")
    return rows[["train_utts", "exp", "method", "steps", "passes", "epochs", "stopped", "train_acc", "ua",
                 "selected_on_val", "notes"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["synthetic:0.05", "synthetic:0.5", "emodb:half"])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="the EmoDB manifest CSV")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="more report parameters for every size (repeatable)")
    args = parser.parse_args()
    for size in args.sizes:
        overrides = overrides_for(size, args.manifest)
        if overrides is None:
            continue
        run = f"budget-{size.replace(':', '-')}"
        command = [sys.executable, "-m", "pdtlib.report", "--set", f"run={run}", "--set", "baseline_durations=[4.0]",
                   *[f"--set={kv}" for kv in overrides + args.overrides]]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        rows = summary(run)
        print(f"\n== {size} ({(time.perf_counter() - start) / 60:.1f} min): reports/{run}/")
        print(rows.drop(columns=["selected_on_val", "notes"]).to_string(index=False,
                                                                      float_format=lambda x: f"{x:.2f}"))
        for row in rows.itertuples():
            for what in ("selected_on_val", "notes"):
                if isinstance(getattr(row, what), str):
                    print(f"  row {row.exp} {what}: {getattr(row, what)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
