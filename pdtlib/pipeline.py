"""The report's steps, as the notebooks call them (one function per step, no logic in notebooks).

Notebook 01 resolves the corpus and writes its utterance table to `reports/<run>/work/corpus.csv`;
the later notebooks read it back (`run_table`) rather than re-resolving the corpus, so their only
shared parameter is `run`, and a notebook run out of order says which one to run first.

    01_data        corpus_table, save_table, run_features      -> work/corpus.csv, table1, caches
    02_pairing     run_table, run_features                       (looks only)
    03_train_pdt   pdt_config, train_pdt                          -> checkpoints/pdt/
    04_svm_eval    load_pdt_encoder, embed, fit_svm, save_vectors -> work/vectors.npz, metrics/pdt_svm.json
    05_traditional classifier_config, train_classifier            -> metrics/traditional_*s.json
    06_tsne        load_vectors, tsne                              -> figures/fig3_tsne.*
    07_confusion   read_metrics                                    -> figures/fig4_confusion.*
    08_table3      table3, write_table3                            -> table3.*, figures/table3.*

Every notebook reads its parameters with pdtlib.params.resolve, and `folder` holds them against
run.json's. The report driver calls `check_parameters` before the first notebook: every config
built from the parameters is built there once, so a bad value fails in seconds, not after training.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from . import EMOTIONS, paths
from .atomic import atomic_path, write_text
from .cache import load_features
from .checkpoints import load_encoder
from .corpora import LOADERS, SPLITS, SyntheticConfig, load_corpus, validate_table
from .corpora.iemocap import check_root, session_splits
from .corpora.manifest import manifest_split
from .corpora.synthetic import default_root
from .corpora.table import CorpusError, label_index
from .evaluate import CHANCE_UA, PAPER_TABLE3, evaluate_predictions, fit_svm, quality_notes
from .features import FeatureConfig, FeatureSet
from .models import AudioEncoder, EncoderConfig
from .pairs import BalancedBatchSampler, PairSampler, evaluation_pairs, in_batch_pairs
from .params import RESOLVED_ENV
from .runs import (check_run_name, lock_run, read_metrics, reconcile_parameters, require, require_current,
                   run_dir, write_metrics, write_stamp)
from .train import ClassifierConfig, PDTConfig, TrainResult, train_classifier, train_pdt

# ---------------------------------------------------------------- run folder

def folder(p) -> Path:
    """reports/<run>/ of these parameters, which become the run's if a notebook was run with others
    than run.json records (runs.reconcile_parameters). A notebook run by hand (not by the report
    driver, whose kernels it tells so) is refused while a report holds the folder."""
    run = run_dir(p.run)
    if os.environ.get(RESOLVED_ENV) != "1":
        with lock_run(run, "a notebook run outside the report"):
            pass
    reconcile_parameters(run, vars(p))
    return run


# ---------------------------------------------------------------- parameters, checked before any work

COUNT_KEYS = ("seed", "corpus_seed", "pdt_batch", "pdt_pairs_per_epoch", "pdt_epochs", "pdt_evals_per_epoch",
              "baseline_batch", "baseline_epochs")
REFIT_ON = ("train", "train+val")


def refit_on(p) -> tuple[str, ...]:
    """`svm_refit_on` as the splits fit_svm refits on."""
    if p.svm_refit_on not in REFIT_ON:
        raise ValueError(f"{p.svm_refit_on!r}: choose one of {REFIT_ON}")
    return tuple(p.svm_refit_on.split("+"))


def check_parameters(p) -> None:
    """Build every config the notebooks build from `p` (the corpus source, FeatureConfig at each
    duration, the encoder, the PDT at each lr, the baseline at each lr, the SVM refit, t-SNE), and
    raise one ValueError naming each parameter that fails, before anything is computed."""
    # The training configs are built around a sound encoder: the encoder's own check reports its keys.
    trained = SimpleNamespace(**{**vars(p), "encoder_channels": EncoderConfig().channels, "input_norm": "none"})
    checks = {
        "run": lambda: check_run_name(p.run),
        "corpus, iemocap_root, manifest, split, synthetic_scale": lambda: corpus_arguments(p),
        "duration, baseline_durations, pad": lambda: [FeatureConfig(duration=float(d), pad=p.pad)
                                                       for d in (p.duration, *p.baseline_durations)],
        "encoder_channels, input_norm": lambda: encoder_config(p),
        "pdt_lr, pdt_mode, pdt_lambda, pdt_margin, pdt_batch, pdt_pairs_per_epoch, pdt_epochs, "
        "pdt_evals_per_epoch, pdt_select_on": lambda: [pdt_config(trained, lr) for lr in _grid(p.pdt_lr, "pdt_lr")],
        "baseline_lr, baseline_batch, baseline_epochs": lambda: [
            classifier_config(trained, lr, select=select) for lr in _grid(p.baseline_lr, "baseline_lr")
            for select in (True, False)],
        "svm_refit_on": lambda: refit_on(p),
        "tsne_perplexity": lambda: p.tsne_perplexity > 0 or _fail(f"{p.tsne_perplexity} must be > 0"),
        **{key: (lambda key=key: float(getattr(p, key)).is_integer() or _fail(f"{getattr(p, key)} must be a whole "
                                                                                 "number"))
           for key in COUNT_KEYS},
    }
    problems = []
    for keys, build in checks.items():
        try:
            build()
        except (ValueError, TypeError, CorpusError) as exc:
            problems.append(f"- {keys}: {exc}")
    if problems:
        raise ValueError("bad parameter values, found before any notebook ran:\n" + "\n".join(problems))


def _grid(values, key: str) -> list:
    return list(values) or _fail(f"{key} is empty: give at least one learning rate")


def _fail(message: str):
    raise ValueError(message)


# ---------------------------------------------------------------- corpus and features

def corpus_table(p) -> tuple[pd.DataFrame, dict]:
    """The utterance table of the corpus the parameters name, and what it is (kind, source, size).

    synthetic: generated (or reused) under data/synthetic/ from `corpus_seed`, read by load_iemocap
               with `split`, like IEMOCAP.
    iemocap:   `iemocap_root` read by load_iemocap with `split` (paper or loso:K).
    manifest:  the CSV at `manifest` read by load_manifest (its split column, or `split: fold:K/N`).
    """
    arguments, source = corpus_arguments(p)
    table = load_corpus(p.corpus, **arguments)
    return table, {"corpus": p.corpus, "source": paths.shown(source), "utterances": len(table)}


def corpus_arguments(p) -> tuple[dict, Path]:
    """The loader arguments and the source folder or file of the corpus the parameters name,
    checked without reading the corpus: the kind, the split, the root's layout, the manifest."""
    if p.corpus not in LOADERS:
        raise ValueError(f"corpus {p.corpus!r}: choose one of {sorted(LOADERS)}")
    if p.corpus == "iemocap" and not p.iemocap_root:
        raise ValueError("corpus 'iemocap' needs iemocap_root, the folder holding Session1..Session5: "
                         "make report PARAMS=params/iemocap.yaml IEMOCAP_ROOT=/path/to/IEMOCAP_full_release")
    if p.corpus == "manifest":
        if not p.manifest:
            raise ValueError("corpus 'manifest' needs manifest, a CSV with path,label,speaker,split: "
                             "make report CORPUS=manifest MANIFEST=my_corpus.csv (see README)")
        if not Path(p.manifest).is_file():
            raise ValueError(f"manifest {p.manifest} is not a file: give the CSV's path (MANIFEST=...)")
        manifest_split(p.split)  # 'paper' (its split column) or 'fold:K/N'
        return {"csv_path": p.manifest, "split": p.split}, Path(p.manifest)
    session_splits(p.split)  # 'paper' or 'loso:K'
    if p.corpus == "iemocap":
        return {"root": p.iemocap_root, "split": p.split}, check_root(p.iemocap_root)
    synthetic = SyntheticConfig(seed=p.corpus_seed, scale=p.synthetic_scale)  # the corpus; `seed` trains
    return {"config": synthetic, "split": p.split}, default_root(synthetic)


def save_table(run: Path, table: pd.DataFrame) -> Path:
    with atomic_path(run / "work" / "corpus.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_stamp(run, run / "work" / "corpus.csv")
    return run / "work" / "corpus.csv"


def run_table(run: Path) -> pd.DataFrame:
    """The utterance table notebook 01 resolved for this run's parameters, checked again."""
    path = require_current(run, run / "work" / "corpus.csv", "01_data", "the run's utterance table")
    table = pd.read_csv(path, dtype={"speaker": str, "gender": str, "utterance_id": str})
    return validate_table(table.fillna({"gender": ""}), name=str(path))


def feature_config(run: Path, duration: float) -> FeatureConfig:
    """FeatureConfig at `duration` with the padding notebook 01 recorded for this run."""
    data = read_metrics(run, "data", "01_data")
    return FeatureConfig(duration=float(duration), pad=data["pad"])


def run_features(run: Path, duration: float, table: pd.DataFrame | None = None) -> FeatureSet:
    """The run's spectrograms at `duration` seconds, from the cache (built on first use)."""
    table = run_table(run) if table is None else table
    return load_features(table, feature_config(run, duration))


# ---------------------------------------------------------------- models

def encoder_config(p) -> EncoderConfig:
    """The encoder both methods train: channels and input normalisation from the parameters."""
    return EncoderConfig(channels=tuple(int(c) for c in p.encoder_channels), input_norm=p.input_norm)


def pdt_config(p, lr: float | None = None) -> PDTConfig:
    """The PDT's training config at `lr` (default the first of `pdt_lr`); its input duration is the
    features' (`duration`)."""
    return PDTConfig(encoder=encoder_config(p), mode=p.pdt_mode, lam=p.pdt_lambda, margin=p.pdt_margin,
                     lr=float(p.pdt_lr[0] if lr is None else lr), batch_size=p.pdt_batch,
                     pairs_per_epoch=p.pdt_pairs_per_epoch, epochs=p.pdt_epochs,
                     evals_per_epoch=p.pdt_evals_per_epoch, select_on=p.pdt_select_on,
                     recalibrate_bn=p.recalibrate_bn, seed=p.seed)


def classifier_config(p, lr: float | None = None, epochs: int | None = None, select: bool = False) -> ClassifierConfig:
    """The traditional baseline's training config; its duration is the features' it is given.

    select=True: the selection run (train split only, val UA every epoch, up to baseline_epochs);
    else §4.1's run on train + val for `epochs` epochs."""
    return ClassifierConfig(encoder=encoder_config(p), lr=float(p.baseline_lr[0] if lr is None else lr),
                            batch_size=p.baseline_batch, epochs=int(epochs or p.baseline_epochs),
                            train_splits=("train",) if select else ("train", "val"),
                            select_on="val_ua" if select else None, recalibrate_bn=p.recalibrate_bn, seed=p.seed)


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
            "metric": result.best["metric"], "value": float(result.best["value"]),
            "checkpoint": str((result.run_dir / "best.pt").relative_to(run)),
            "tried": {f"{k:g}": float(r.best["value"]) for k, r in results.items()}}


def train_pdt_selected(run: Path, p, fs: FeatureSet) -> tuple[dict, dict[float, TrainResult]]:
    """Notebook 03: one PDT per learning rate in `pdt_lr`, each keeping its best checkpoint on
    validation (`pdt_select_on`); the best of them is the PDT of Table 3 row 5."""
    results = {float(lr): train_pdt(fs, pdt_config(p, lr), pdt_dir(run) / f"lr{float(lr):g}", resume="auto")
               for lr in p.pdt_lr}
    return _choice(run, results), results


def train_baseline(run: Path, p, fs: FeatureSet) -> tuple[dict, TrainResult]:
    """Notebook 05, one duration (Table 3 rows 1-4): the epoch count and learning rate chosen on
    the val split by UA (one selection run per lr in `baseline_lr` on the train split, up to
    `baseline_epochs`), then the classifier trained as §4.1 says, on train + val, for that count.
    Returns (the choice, the final TrainResult)."""
    folder = baseline_dir(run, fs.config.duration)
    trials = {float(lr): train_classifier(fs, classifier_config(p, lr, select=True), folder / f"select_lr{float(lr):g}",
                                          resume="auto") for lr in p.baseline_lr}
    chosen = _choice(run, trials)
    chosen["epochs"] = int(round(chosen["epoch"]))
    final = train_classifier(fs, classifier_config(p, chosen["lr"], chosen["epochs"]), folder / "final", resume="auto")
    return chosen, final


def training_notes(log: pd.DataFrame, chosen: dict) -> list[str]:
    """What a reader of a training run should know: a flat selection signal, a choice near chance,
    a loss that did not go down. Notes, not failures."""
    notes = []
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


def selection_text(chosen: dict) -> str:
    """'lr 0.001, 7 epochs (val UA 61.2%)' or 'lr 0.001, checkpoint at epoch 4.5 (val UA 58.0%)'."""
    where = (f"{chosen['epochs']} epoch{'s' * (chosen['epochs'] != 1)}" if "epochs" in chosen
             else f"checkpoint at epoch {chosen['epoch']:g}")
    name = {"val_ua": "val UA"}.get(chosen["metric"], chosen["metric"])
    return f"lr {chosen['lr']:g}, {where} ({name} {100 * chosen['value']:.1f}%)"


def selection_log(run: Path, chosen: dict) -> pd.DataFrame:
    """The log.csv of the run a choice was made in (its validation curve)."""
    return pd.read_csv(run / Path(chosen["checkpoint"]).parent / "log.csv")


def load_pdt_encoder(run: Path) -> tuple[AudioEncoder, dict]:
    """The encoder of the PDT checkpoint selected on validation (notebook 03's choice), in eval
    mode, and what checkpoints.load_encoder says of it (its config, features and selection)."""
    chosen = read_metrics(run, "pdt_training", "03_train_pdt")["chosen"]
    return load_encoder(require(run / chosen["checkpoint"], "03_train_pdt", "the trained PDT (best.pt)"))


# ---------------------------------------------------------------- vectors

def save_vectors(run: Path, table: pd.DataFrame, vectors: np.ndarray) -> Path:
    """work/vectors.npz: the 256-D vectors with utterance ids, labels and splits."""
    path = run / "work" / "vectors.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, vectors=vectors.astype(np.float32), utterance_id=table["utterance_id"].to_numpy(str),
                     label=table["label"].to_numpy(str), split=table["split"].to_numpy(str),
                     speaker=table["speaker"].astype(str).to_numpy(str))
    write_stamp(run, path)
    return path


def load_vectors(run: Path) -> dict:
    path = require_current(run, run / "work" / "vectors.npz", "04_svm_eval", "the PDT vectors")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------- scores and tables

def _listed(values, most: int = 12) -> str:
    values = list(values)
    return ",".join(values) if len(values) <= most else f"{len(values)} ({','.join(values[:most])},...)"


def protocol(table: pd.DataFrame, **choices) -> str:
    """One line naming what trained and what tested: the sessions of each split when every split
    has them (IEMOCAP's layout: 'sessions: train 1,2,3 / val 4 / test 5'), else its speakers
    ('speakers: train 03,08,09 / val 13,14 / test 15,16'); then `choices` ('; svm refit on ...')."""
    def values(column, split):
        found = table.loc[table["split"] == split, column].dropna().astype(str).str.strip()
        return sorted(v for v in found.unique() if v)

    by = "session" if all(values("session", s) for s in SPLITS) else "speaker"
    text = f"{by}s: " + " / ".join(f"{s} {_listed(values(by, s)) or '?'}" for s in SPLITS)
    return text + "".join(f"; {k.replace('_', ' ')} {v}" for k, v in choices.items())


def score_test(run: Path, name: str, table: pd.DataFrame, y_true, y_pred, **extra) -> dict:
    """UA, WA, macro-F1, recalls, classes predicted, confusion and quality notes of test
    predictions, written to metrics/<name>.json."""
    m = evaluate_predictions(y_true, y_pred)
    metrics = {"ua": m["ua"], "wa": m["wa"], "f1": m["f1"], "n": int(m["n"]),
               "classes_predicted": m["classes_predicted"], "recall": m["recall"],
               "confusion": np.asarray(m["confusion"]).tolist(), **extra,
               "protocol": protocol(table, **({"svm refit on": extra["refit_on"]} if "refit_on" in extra else {}))}
    metrics["notes"] = quality_notes(metrics)
    write_metrics(run, name, metrics)
    return metrics


def svm_text(svm) -> str:
    """'SVM rbf, C 10, gamma scale (val UA 63.2%)': what fit_svm chose on validation."""
    chosen = {k.removeprefix("svc__"): v for k, v in svm.best_params.items()}
    detail = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in chosen.items() if k != "kernel")
    return f"SVM {chosen.get('kernel', '?')}, {detail} (val UA {100 * svm.val_ua:.1f}%)"


def svm_row(run: Path, name: str, table: pd.DataFrame, vectors: np.ndarray, p, chosen: str = "", **extra):
    """Table 3 rows 5-7: `vectors` (N, d) of every utterance of `table` -> the SVM chosen on the
    val split by UA (evaluate.fit_svm, refit on `svm_refit_on`) -> scored once on the test split,
    into metrics/<name>.json. `chosen` says what was chosen on validation before the SVM.
    Returns (metrics, the SVMResult)."""
    labels, splits = label_index(table["label"]).to_numpy(), table["split"].to_numpy()
    svm = fit_svm(vectors, labels, splits, refit_on=refit_on(p), seed=p.seed)
    test = np.flatnonzero(splits == "test")
    selection = "; ".join(filter(None, [chosen, svm_text(svm)]))
    metrics = score_test(run, name, table, labels[test], svm.pipeline.predict(vectors[test]),
                         best_params=svm.best_params, val_ua=svm.val_ua, refit_on="+".join(svm.refit_on),
                         selection=selection, **extra)
    return metrics, svm


def padding_note(table: pd.DataFrame, durations) -> str:
    """How much of the corpus the feature code pads: a corpus of short (or cut) files is mostly
    padding at 7 s, which the reader should know."""
    seconds = table["duration_s"].to_numpy(dtype=float)
    shares = ", ".join(f"{100 * np.mean(seconds < d):.0f}% at {d:g} s" for d in sorted(durations))
    return (f"Utterances shorter than the clip and padded to it ({shares}); median length "
            f"{np.median(seconds):.1f} s.")


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


# Table 3: the paper's rows 1-5 (evaluate.PAPER_TABLE3), then this project's rows 6-7, which
# separate the method's effect from the classifier's: the cross-entropy encoder through the same
# SVM as row 5, and the classic hand-crafted reference through it. `metrics`: the file each reads.
TABLE3_ROWS = [
    *({**row, "metrics": "pdt_svm" if row["method"] != "traditional" else f"traditional_{row['duration']:g}s"}
      for row in PAPER_TABLE3),
    {"exp": 6, "method": "traditional encoder + SVM", "duration": 4.0, "paper_ua": float("nan"),
     "metrics": "traditional_encoder_svm"},
    {"exp": 7, "method": "eGeMAPS + SVM", "duration": float("nan"), "paper_ua": float("nan"),
     "metrics": "egemaps_svm"},
]


def table3(run: Path, p) -> pd.DataFrame:
    """Table 3's seven rows with this run's UA, WA and macro-F1 (percent), the classes each row
    predicts on test and what was chosen on validation, from the metrics of 01, 04 and 05.

    A row that was not run (a duration left out of `baseline_durations`) stays empty (NaN)."""
    corpus = read_metrics(run, "data", "01_data")["corpus"]
    durations = [float(d) for d in p.baseline_durations]
    rows = []
    for row in TABLE3_ROWS:
        run_here = row["method"] != "traditional" or row["duration"] in durations  # a stale file is not this run's
        path = run / "metrics" / f"{row['metrics']}.json"
        m = read_metrics(run, row["metrics"], "05_traditional_baselines") if run_here and path.exists() else {}
        percent = {k: round(100 * m[k], 2) if k in m else float("nan") for k in ("ua", "wa", "f1")}
        seconds = f", {row['duration']:g} s" if row["duration"] == row["duration"] else ""  # NaN: whole utterances
        notes = "; ".join(m.get("notes", []))
        rows.append({**{k: v for k, v in row.items() if k != "metrics"}, **percent,
                     "classes_predicted": m.get("classes_predicted", float("nan")),
                     "selected_on_val": m.get("selection", ""),
                     "notes": f"Exp {row['exp']} ({row['method']}{seconds}): {notes}" if notes else "",
                     "corpus": corpus, "protocol": m.get("protocol", ""), "seed": p.seed})
    return pd.DataFrame(rows)


def write_table3(run: Path, table: pd.DataFrame, notes: tuple[str, ...] = ()) -> Path:
    """reports/<run>/table3.csv and table3.md: the paper's UA beside this run's UA, WA and
    macro-F1, with the corpus, the protocol, the definitions and every row's quality notes."""
    first = table.dropna(subset=["ua"]).iloc[0] if table["ua"].notna().any() else table.iloc[0]
    notes = (f"Corpus: {first['corpus']}; {first['protocol']}; seed {first['seed']}.",
             "UA = mean per-class recall (balanced accuracy); WA = plain accuracy; macro-F1 = mean per-class F1; "
             "all on the test split, in %. Rows 6-7 are this project's: the same SVM selection as row 5 on "
             "other vectors.", *notes, *(n for n in table["notes"] if n))
    shown = table[["exp", "method", "duration", "paper_ua", "ua", "wa", "f1", "classes_predicted",
                   "selected_on_val"]].rename(columns={
        "exp": "Exp", "method": "Method", "duration": "Duration (s)", "paper_ua": "Paper UA", "ua": "UA",
        "wa": "WA", "f1": "Macro-F1", "classes_predicted": "Classes predicted",
        "selected_on_val": "Chosen on validation"})
    return write_table(run, "table3", table, f"Table 3: the test split, run `{run.name}`",
                       tuple(f"- {n}" for n in notes), shown)


# ---------------------------------------------------------------- pairs

def pairing_summary(labels, train, val, *, batch_size: int, n_pairs: int, seed: int) -> dict:
    """What the PDT sees: the sampled pairs of one epoch (positive share, which classes meet),
    the pairs and positive weight of one in-batch step, and the fixed evaluation pair set."""
    sampler = PairSampler(labels, train, batch_size, seed=seed)
    counts = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=np.int64)
    n, n_same = 0, 0
    for a, b, same in sampler.stream(n_pairs):
        np.add.at(counts, (labels[a], labels[b]), 1)
        n, n_same = n + len(a), n_same + int(same.sum())
    rows = BalancedBatchSampler(labels, train, batch_size, seed=seed).batch(0)
    _, _, same, weight = in_batch_pairs(torch.as_tensor(labels[rows]), torch.as_tensor(rows))
    eval_set = evaluation_pairs(labels, val, seed=seed)
    return {"sampled_pairs": n, "sampled_positive_share": n_same / n,
            "class_pairs": pd.DataFrame(counts, index=EMOTIONS, columns=EMOTIONS),
            "in_batch_pairs_per_step": len(weight), "in_batch_positive_weight": float(weight[same].sum()),
            "evaluation_pairs": len(eval_set), "evaluation_note": eval_set.note}
