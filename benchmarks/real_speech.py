"""Table 3 on real speech: the report run on the EmoDB development corpus, every row's UA printed.

    .venv/bin/python benchmarks/real_speech.py [--manifest ../shared/data/emodb4/manifest.csv]
                                               [--run emodb4] [--set key=value ...]

Runs `python -m pdtlib.report` with the default parameters on the manifest (10 German speakers,
339 utterances of 2 s, speaker-independent split; a development corpus that lives beside the
repository, not in it) and prints Table 3 with every row's UA, WA, macro-F1 and classes
predicted, its training accuracy at the end, steps, encoder passes and why training stopped, then
the checks of the real-speech issues: every row predicts at least 3 of the 4 classes, the
traditional rows are within 10 UA points of the eGeMAPS + SVM row of the same run; and every
row's notes (a budget that binds, a checkpoint at the initial weights, under-fit). When the corpus is absent it says so and exits 0: nothing a user runs needs it.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from pdtlib.system import paths

DEFAULT_MANIFEST = paths.PROJ_ROOT.parent / "shared" / "data" / "emodb4" / "manifest.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="a manifest CSV (README)")
    parser.add_argument("--run", default="emodb4", help="reports/<run>/")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="more report parameters (repeatable)")
    args = parser.parse_args()
    if not args.manifest.is_file():
        print(f"skipped: no real-speech corpus at {args.manifest} (a development corpus kept outside the "
              "repository; pass --manifest to use another)")
        return 0
    command = [sys.executable, "-m", "pdtlib.report", "--set", "corpus=manifest",
               "--set", f"manifest={args.manifest.resolve()}", "--set", f"run={args.run}",
               *[f"--set={kv}" for kv in args.overrides]]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    table = pd.read_csv(paths.reports_dir() / args.run / "table3.csv")
    shown = table[["exp", "method", "duration", "paper_ua", "ua", "wa", "f1", "classes_predicted", "train_acc",
                   "steps", "passes", "stopped"]]
    print(f"\n== Table 3 on {args.manifest.parent.name} ({wall / 60:.1f} min)")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    egemaps = table.loc[table["exp"] == 7, "ua"].item()
    traditional = table.loc[table["method"] == "traditional"].dropna(subset=["ua"])
    few = table.loc[table["classes_predicted"] < 3, "exp"].tolist()
    far = traditional.loc[(traditional["ua"] - egemaps).abs() > 10, "exp"].tolist()
    print(f"rows predicting fewer than 3 classes: {few or 'none'}")
    print(f"traditional rows more than 10 UA points from eGeMAPS + SVM ({egemaps:.2f}): {far or 'none'}")
    print("notes:")
    for note in table["notes"].dropna():
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
