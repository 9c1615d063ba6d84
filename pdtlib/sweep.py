"""Sweep over the PDT's m (eq. 2) and λ (eq. 1) in Table 2's ranges, selected on validation pairs.

    python -m pdtlib.sweep --run default [--margins 0 0.1 0.2 0.3] [--lams 0 0.5 0.9 1] [--pairs 5000]

runs the grid on a report run's training features (notebook 01 must have run) with that run's
PDT settings and prints the ranked table; results go to reports/<run>/sweep/.

Table 2 searches m in [0, 0.3] (best 0.1) and λ in [0, 1] (best 0.9). Each setting is one short
`train_pdt` run from the same base config and seed (same batches, same evaluation pairs), in its
own sub-folder of `run_dir` (a finished setting is read back, not retrained). Settings are ranked
by a validation pair accuracy — never by test, and never by the validation loss, whose
definition changes with m and λ. Ties go to the higher discriminator accuracy, then the higher
cosine accuracy, then grid order.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import params, pipeline
from .features import FeatureSet
from .runs import read_record, run_dir
from .train import PDTConfig, train_pdt

MARGIN_RANGE = (0.0, 0.3)  # Table 2
LAM_RANGE = (0.0, 1.0)  # Table 2
SWEEP_SELECT_ON = ("val_pair_acc", "val_acc", "val_cos_acc")


def sweep_pdt(features: FeatureSet, base: PDTConfig, run_dir, *, margins=(0.0, 0.1, 0.2, 0.3),
              lams=(0.0, 0.5, 0.9, 1.0), select_on: str = "val_pair_acc", resume: bool = True,
              device=None) -> tuple[pd.DataFrame, dict]:
    """Train `base` at every (margin, lam) of the grid; return (results, best setting).

    results: one row per setting: margin, lam, the validation metrics of the weights each
             run selected (at best_step), pairs_seen, wall_s, run_dir; sorted best first.
    best:    {"margin", "lam", select_on: value, "run_dir"} of the first row.
    Each run selects its own checkpoint on `select_on` too. `base` sets everything else (mode,
    encoder, lr, max_passes): keep it brief, e.g. a few thousand encoder passes on the default corpus.
    """
    if select_on not in SWEEP_SELECT_ON:
        raise ValueError(f"select_on = {select_on!r} is not allowed: one of {SWEEP_SELECT_ON} (validation losses "
                         "change definition with m and λ, so they do not rank settings)")
    for name, values, (lo, hi) in (("margins", margins, MARGIN_RANGE), ("lams", lams, LAM_RANGE)):
        bad = [v for v in values if not lo <= v <= hi]
        if not len(values) or bad:
            raise ValueError(f"{name} = {list(values)}: values must lie in Table 2's range [{lo}, {hi}]")
    run_dir = Path(run_dir)
    rows = []
    for margin in margins:
        for lam in lams:
            config = replace(base, margin=float(margin), lam=float(lam), select_on=select_on)
            folder = run_dir / f"m{margin:g}_lam{lam:g}"
            result = train_pdt(features, config, folder, resume=resume, device=device)
            chosen = result.log.loc[result.log["step"] == result.best["step"]].iloc[0]
            rows.append({"margin": float(margin), "lam": float(lam), "best_step": int(result.best["step"]),
                         **{k: float(v) for k, v in chosen.items() if k.startswith("val_")},
                         "pairs_seen": int(result.log["pairs_seen"].max()),
                         "wall_s": round(float(result.log["elapsed_s"].max()), 2), "run_dir": str(folder)})
    table = pd.DataFrame(rows)
    table = table.sort_values([select_on, "val_acc", "val_cos_acc"], ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    top = table.iloc[0]
    best = {"margin": float(top["margin"]), "lam": float(top["lam"]), select_on: float(top[select_on]),
            "run_dir": top["run_dir"]}
    return table, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="default", help="a report run whose notebook 01 has run (reports/<run>)")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3], help="m values, Table 2")
    parser.add_argument("--lams", type=float, nargs="+", default=[0.0, 0.5, 0.9, 1.0], help="λ values, Table 2")
    parser.add_argument("--passes", type=int, default=5000, help="encoder passes per setting (keep it brief)")
    args = parser.parse_args(argv)
    folder = run_dir(args.run)
    recorded = read_record(folder).get("params") or params.defaults()
    p = params.resolve(recorded)
    features = pipeline.run_features(folder, p.duration)
    base = pipeline.pdt_config(p)
    base = replace(base, max_passes=args.passes, eval_every=max(1, args.passes // base.passes_per_step // 2), patience=0)
    table, best = sweep_pdt(features, base, folder / "sweep", margins=args.margins, lams=args.lams)
    print(table.drop(columns="run_dir").to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"best on validation: m = {best['margin']:g}, λ = {best['lam']:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
