"""Training with choices made on validation: the PDT's learning rate and checkpoint (notebook 03),
the traditional baseline's learning rate and epoch count (notebook 05), and what a reader should
know about a training run. The test split is never read here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import artefacts
from ...corpora.cache import load_features
from ...training.checkpoints import load_encoder
from ...evaluation.evaluate import CHANCE_UA
from ...features import FeatureConfig, FeatureSet
from ...models import AudioEncoder
from ...training.configs import UNDERFIT_ACC, min_passes
from ...training.train import train_classifier, train_pdt
from ...training.trainer import TrainResult
from .configs import classifier_config, grid, pdt_config


def feature_config(run: Path, duration: float) -> FeatureConfig:
    """FeatureConfig at `duration` with the padding notebook 01 recorded for this run."""
    return FeatureConfig(duration=float(duration), pad=artefacts.read(run, "data")["pad"])


def run_features(run: Path, duration: float, table: pd.DataFrame | None = None) -> FeatureSet:
    """The run's spectrograms at `duration` seconds, from the cache (built on first use)."""
    table = artefacts.run_table(run) if table is None else table
    return load_features(table, feature_config(run, duration))


def pdt_dir(run: Path) -> Path:
    return run / "checkpoints" / "pdt"


def baseline_dir(run: Path, duration: float) -> Path:
    return run / "checkpoints" / f"traditional_{duration:g}s"


def _choice(run: Path, results: dict[float, TrainResult]) -> dict:
    """The learning rate whose run reached the best validation value, and where (ties: the earlier
    checkpoint, then the smaller learning rate); `checkpoint` is its best.pt relative to `run`."""
    def key(item):
        lr, result = item
        return (result.best["value"], -result.best["step"], -lr)

    lr, result = max(results.items(), key=key)
    row = result.log.loc[result.log["step"] == result.best["step"]].iloc[0]
    return {"lr": float(lr), "step": int(result.best["step"]), "epoch": float(row["epoch"]),
            "passes": int(row["passes"]), "metric": result.best["metric"], "value": float(result.best["value"]),
            "checkpoint": str((result.run_dir / "best.pt").relative_to(run)),
            "tried": {f"{k:g}": float(r.best["value"]) for k, r in results.items()},
            # what training cost, every learning rate tried: the compute both methods are held to
            "trained": {f"{k:g}": {"steps": r.steps, "passes": r.passes, "stopped": r.stopped}
                        for k, r in results.items()}}


def train_pdt_selected(run: Path, p, fs: FeatureSet) -> tuple[dict, dict[float, TrainResult]]:
    """Notebook 03: one PDT per learning rate in `pdt_lr`, each keeping its best checkpoint on
    validation (`pdt_select_on`); the best of them is the PDT of Table 3 row 5."""
    results = {lr: train_pdt(fs, pdt_config(p, lr), pdt_dir(run) / f"lr{lr:g}", resume="auto")
               for lr in grid(p, "pdt_lr")}
    return _choice(run, results), results


def train_baseline(run: Path, p, fs: FeatureSet) -> tuple[dict, TrainResult]:
    """Notebook 05, one duration (Table 3 rows 1-4): the number of encoder passes and the learning
    rate chosen on the val split by UA (one selection run per lr in `baseline_lr` on the train
    split, stopped by `patience` or the cap `max_passes`, the PDT's budget), then the classifier
    trained as §4.1 says, on train + val, for that many passes and at least `min_epochs` epochs of
    train + val (the fair length every run gets: a run that keeps no checkpoint is not stopped
    earlier either; docs/protocol.md, "Training budgets"), returning the moving average of its
    weights (`baseline_weight_average`; training.averaging). Returns (the choice, the final TrainResult);
    the choice's "final" says what the final run trained and whether the floor set its length."""
    folder = baseline_dir(run, fs.config.duration)
    trials = {lr: train_classifier(fs, classifier_config(p, lr, select=True), folder / f"select_lr{lr:g}",
                                   resume="auto") for lr in grid(p, "baseline_lr")}
    chosen = _choice(run, trials)
    floor = min_passes(p.min_epochs, len(fs.indices("train", "val")), p.max_passes)
    config = classifier_config(p, chosen["lr"], passes=max(chosen["passes"], floor))
    final = train_classifier(fs, config, folder / "final", resume="auto")
    chosen["final"] = {"steps": final.steps, "passes": final.passes, "floor": floor,
                       "weight_average": config.weight_average,
                       "epochs": float(final.log["epoch"].iloc[-1]),
                       "train_acc": float(final.log["train_acc"].dropna().iloc[-1])}
    return chosen, final


def training_notes(log: pd.DataFrame, chosen: dict, stopped: str, max_passes: int | None = None,
                   final: dict | None = None) -> list[str]:
    """What a reader of a training run should know, from its log and what validation chose: the
    trained weights chosen do not beat the untrained ones (step 0, logged but never chosen); the cap bound (the best evaluation was the last, at
    max_passes); validation never rose above its first value; the training accuracy at the end is
    under UNDERFIT_ACC; a flat selection signal, a choice near chance, a loss that did not go down.
    `final`: the run that is scored when it is not the one `log` records (the traditional final run
    on train + val: train_baseline's chosen["final"], its passes and training accuracy at the end).
    Notes, not failures."""
    notes = []
    metric = log[chosen["metric"]].dropna() if chosen["metric"] in log else pd.Series(dtype=float)
    name = {"val_ua": "validation UA"}.get(chosen["metric"], chosen["metric"])
    initial = metric[log.loc[metric.index, "step"] == 0]  # the untrained model's value (PDT: log_initial)
    if len(initial) and chosen["value"] <= initial.iloc[0]:
        notes.append(f"the trained encoder's best {name} {100 * chosen['value']:.1f}% (step {chosen['step']}) is not "
                     f"above the untrained encoder's {100 * initial.iloc[0]:.1f}% (step 0): on validation, training "
                     "did not beat random weights")
    elif len(metric) > 1 and not len(initial) and metric.iloc[1:].max() <= metric.iloc[0]:
        notes.append(f"{name} never rose above its first value ({100 * metric.iloc[0]:.1f}%)")
    if stopped == "cap" and len(metric) > 1 and chosen["step"] == log["step"].iloc[-1]:
        cap = f" of {max_passes:,} encoder passes" if max_passes else ""
        notes.append(f"the best {name} came at the last evaluation, at the cap{cap}: the budget binds; "
                     "raise max_passes")
    acc = log["train_acc"].dropna() if "train_acc" in log else pd.Series(dtype=float)
    if final is not None:  # the run that is scored is another one (the traditional final run on train + val)
        if final["train_acc"] < UNDERFIT_ACC:
            notes.append(f"the final run's training accuracy at the end {final['train_acc']:.2f} < {UNDERFIT_ACC} "
                         f"({final['passes']:,} passes on train + val): under-fit")
    elif len(acc) and acc.iloc[-1] < UNDERFIT_ACC:
        notes.append(f"training accuracy at the end {acc.iloc[-1]:.2f} < {UNDERFIT_ACC}: under-fit")
    if "val_pair_acc" in log and log["val_pair_acc"].notna().any():
        low, high = log["val_pair_acc"].min(), log["val_pair_acc"].max()
        if high - low < 0.01:
            notes.append(f"validation pair accuracy stayed within {low:.3f}-{high:.3f} for the whole run (2/3 is "
                         "answering 'different' to every pair): it carries no information for selection")
    if chosen["metric"] == "val_ua" and chosen["value"] < CHANCE_UA + 0.05:
        notes.append(f"the chosen checkpoint's validation UA {100 * chosen['value']:.1f}% is within 5 points of chance")
    loss = log["train_loss"].dropna()
    if len(loss) > 1 and loss.iloc[-1] >= loss.iloc[0]:
        notes.append(f"the training loss did not go down ({loss.iloc[0]:.3f} -> {loss.iloc[-1]:.3f})")
    return notes


def selection_log(run: Path, chosen: dict) -> pd.DataFrame:
    """The log.csv of the run a choice was made in (its validation curve)."""
    return pd.read_csv(run / Path(chosen["checkpoint"]).parent / "log.csv")


def load_pdt_encoder(run: Path) -> tuple[AudioEncoder, dict]:
    """The encoder of the PDT checkpoint selected on validation (notebook 03's choice), in eval
    mode, and what checkpoints.load_encoder says of it (its config, features and selection)."""
    return load_encoder(artefacts.pdt_checkpoint(run))
