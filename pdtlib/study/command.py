"""A study: a grid of ordinary report runs (grid points x training seeds x folds), fanned out on
Ray, then one table with intervals and paired tests. `make report` is one run; a study is the path
to a claim. The one mechanism for every search: Table 2's m x λ is a study with a grid.

    python -m pdtlib.study params/study-default.yaml [--address ray://head:10001] [--no-ray] [--set key=value]
    python -m pdtlib.study compare reports/study-A reports/study-B ... [--out reports/compare]
    python -m pdtlib.study compare --between reports/study-default-fp32 reports/study-default
    python -m pdtlib.study table2 reports/study-table2 [--out DIR]
    python -m pdtlib.study summarise reports/study-emodb [reports/study-default ...]

A study file (`params/study-*.yaml`) names the base parameter file, the training seeds, the folds
(`split` values: `paper` / `loso:K` for IEMOCAP's layout, `fold:K/N` for manifests), overrides for
every cell (`set`, and `--set` on the command line, e.g. iemocap_root) and what one cell needs
(`resources`: num_cpus, num_gpus). Optionally:

    grid:       parameter -> list of values, whose product gives the study's points (first key outermost)
    points:     a list of explicit points, each a mapping parameter -> value (settings off the product,
                e.g. the pairing scheme at one m and λ), after the grid's; a point may carry its own
                `name`, and a string value `$name` stands for parameter `name`'s value in every cell
                (params/study-cross-corpus.yaml: `manifest: $test_manifest` swaps the two corpora)
    notebooks:  the notebooks each cell runs, as name prefixes (e.g. ["01", "02", "03", "04"]: PDT + SVM
                alone; YAML reads an unquoted 01 as the number 1, which means "01" too); default all

Grid and point values are checked like `set`'s (params.check), and a point's values win over `set`
and `--set`; run, seed and split are each cell's own and cannot be grid keys. Each cell is a normal
run folder `reports/<study>/<point>-<fold>-seed<seed>/` (the point named by its values, e.g.
`m0.1-lam0.9-loso5-seed0`; without grid or points `<fold>-seed<seed>/` as always), made by
`report.runner.execute`, so every notebook, figure and `pdt` command works on it. A cell that runs some
notebooks records them (run.json `scope`) and is complete once they succeeded; the Table 3 rows
its notebooks do not make stay empty. The corpus stays fixed (`synthetic_seed`) while the
training seed varies.

The engine is Ray (https://docs.ray.io): each cell is one Ray task with the study's resources.
`ray.init()` starts a local instance, or joins the cluster `RAY_ADDRESS` (or `--address`) names (on
Slurm, `ray up` or KubeRay: docs/report.md); each cell takes the driver's folders and threads with it
and sends back what the study's tables read (study.running), a cell whose worker dies is run again
once, and `reports/<study>/study.local.json` says where each cell ran. Ray is an optional extra
(`pip install ".[cluster]"`); without it the cells run one after another, and the study says so.
A cell whose run.json says `complete` for the same parameters (and the notebooks asked for) is
skipped; a failed cell is named and the others go on. Then notebook `09_study` reads every cell's
Table 3 rows (`collect`: table3.csv, or the metrics of a cell without notebook 08) and writes
`reports/<study>/table3_study.md/.csv`, `paired.md/.csv`, `cells.md/.csv` and `figures/study.*`;
for a study whose points set test_manifest (cross-corpus), notebook `11_cross_corpus` writes
`cross_corpus.md/.csv`, `cross_corpus_answer.md/.csv` and `figures/cross_corpus.*` (study.cross_corpus);
for a study with a grid or points, notebook `10_table2` writes `cells.md/.csv` and Table 2
(`table2.md/.csv`, `table2_paired.csv`, `figures/table2.*`, study.table2) instead.

Statistics (study.stats, study.fold_stats, study.verdict; docs/protocol.md, section 6): the fold is
the unit. Per Table 3 row, the mean over folds (each the mean over its seeds), the sd between folds, a
95% t-interval over folds and the folds and cells; per row against PDT + SVM (row 5), over the cells
both have, the mean of the folds' differences, its t-interval over folds, the corrected resampled t
over the cells (Nadeau & Bengio 2003, at the study's n_test/n_train), a hierarchical bootstrap, the sd
between seeds and between folds, baycomp's P(better / within ±1 UA point / worse) and the folds that
80% power at the paper's +5.24 needs. Bounds are clipped to what a percentage (or a difference of two)
can be, and a row over fewer than 5 folds says that its interval rests on few folds. `summarise`
writes a study folder's tables again from its committed cells.csv with this code's statistics
(Table 2's files for a grid study).

`compare` sets studies side by side, e.g. one per corpus, from the `cells.csv` each study folder
holds (notebook 09 writes it; the cells' run folders are not needed, so committed results suffice):
the answer per study (PDT + SVM minus the traditional row, exp 1, 4 s, at the fold level, with
baycomp's probabilities and the folds 80% power needs) and pooled over the studies (a random-effects
meta-analysis, DerSimonian & Laird 1986), the folds needed by seeds per fold, and one table of study
(and corpus) x Table 3 row with PDT + SVM minus the traditional row and minus eGeMAPS + SVM (exp 7)
-> `<out>/compare.md`, `compare.csv`, `answer.csv`, `power.csv` and a forest plot
`<out>/figures/compare.*` beside the paper's claim (+5.24 UA points over the traditional row). `table2` makes Table 2 again from a grid study's
committed `cells.csv` (study.outputs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..report import params as parameters
from ..system import paths
from ..system.runs import run_dir
from .outputs import compare, compare_between, find_study_folder, summarise_folder, table2
from .running import check_cells, run_study, summarise_notebook
from .spec import load_study, with_overrides


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:  # a subcommand only by its first word: `STUDY_FILE ...` stays as it was
        return compare_main(argv[1:])
    if argv[:1] == ["table2"]:
        return table2_main(argv[1:])
    if argv[:1] == ["summarise"]:
        return summarise_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", nargs="?", default="params/study-default.yaml",
                        help="a study file (params/study-*.yaml)")
    parser.add_argument("--address", default=None, help="a Ray cluster to send the cells to (default: RAY_ADDRESS, "
                                                        "else a local instance)")
    parser.add_argument("--no-ray", action="store_true", help="run the cells one after another in this process")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for every cell, over the study file's `set` "
                             "(e.g. iemocap_root=/data/IEMOCAP)")
    args = parser.parse_args(argv)
    try:
        study = load_study(args.study)
        study = with_overrides(study, dict(parameters.parse_override(item) for item in args.set), "--set")
        check_cells(study)
    except ValueError as exc:
        raise SystemExit(f"study: {exc}") from None
    start = time.perf_counter()
    table = run_study(study, address=args.address, use_ray=False if args.no_ray else None)
    complete = int((table["status"] == "complete").sum())
    minutes = (time.perf_counter() - start) / 60
    print(f"study {study.name}: {complete} of {len(table)} cells complete in {minutes:.1f} min")
    if complete:
        out = summarise_notebook(study)
        written = ("cross_corpus.md" if study.is_cross_corpus() else "table2.md" if study.has_points()
                   else "table3_study.md")
        print(f"study: see {run_dir(study.name)}/{written} (notebook {paths.shown(out)})")
    return 0 if complete == len(table) else 1


def compare_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study compare",
                                     description="Studies side by side (e.g. one per corpus) from their cells.csv; "
                                                 "--between: two runs of one study, cell by cell.")
    parser.add_argument("folders", nargs="+", help="study folders (reports/<study>/, each with cells.csv)")
    parser.add_argument("--out", default=None, help="where compare.md/.csv and figures/compare.* go "
                                                    "(default reports/compare)")
    parser.add_argument("--between", action="store_true",
                        help="two folders of one study run twice (e.g. precision fp32, then bf16): each row's UA, "
                             "second minus first, paired cell by cell -> between.md/.csv")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else paths.reports_dir() / "compare"
    if args.between and len(args.folders) != 2:
        raise SystemExit(f"study compare --between: give two study folders, got {len(args.folders)}")
    try:
        if args.between:
            compare_between(*args.folders, out=out)
            print(f"study compare --between -> {paths.shown(out / 'between.md', Path.cwd())}")
            return 0
        table = compare(args.folders, out)
    except ValueError as exc:
        raise SystemExit(f"study compare: {exc}") from None
    print(f"study compare: {table['study'].nunique()} studies -> {paths.shown(out / 'compare.md', Path.cwd())}")
    return 0


def table2_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study table2",
                                     description="Table 2 (m x λ, pairing) from a grid study's cells.csv.")
    parser.add_argument("folder", help="a grid study's folder (reports/<study>/, with cells.csv)")
    parser.add_argument("--out", default=None, help="where table2.md/.csv and figures/table2.* go (default: folder)")
    args = parser.parse_args(argv)
    try:
        table = table2(args.folder, args.out)
    except ValueError as exc:
        raise SystemExit(f"study table2: {exc}") from None
    out = Path(args.out) if args.out else find_study_folder(args.folder)
    print(f"study table2: {len(table)} points -> {paths.shown(out / 'table2.md', Path.cwd())}")
    return 0


def summarise_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study summarise",
                                     description="A study's tables again from its committed cells.csv, with this "
                                                 "code's statistics (no cell is run).")
    parser.add_argument("folders", nargs="+", help="study folders (reports/<study>/, each with cells.csv)")
    args = parser.parse_args(argv)
    for folder in args.folders:
        try:
            written = summarise_folder(folder)
        except ValueError as exc:
            raise SystemExit(f"study summarise: {exc}") from None
        print(f"study summarise -> {paths.shown(Path(written), Path.cwd())}")
    return 0
