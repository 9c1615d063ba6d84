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

Every notebook reads its parameters with pdtlib.params.resolve.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import EMOTIONS, paths
from .atomic import atomic_path, write_text
from .cache import load_features
from .checkpoints import load_encoder
from .corpora import SyntheticConfig, load_corpus, validate_table
from .corpora.synthetic import default_root
from .evaluate import PAPER_TABLE3, evaluate_predictions
from .features import FeatureConfig, FeatureSet
from .models import AudioEncoder, EncoderConfig
from .pairs import BalancedBatchSampler, PairSampler, evaluation_pairs, in_batch_pairs
from .runs import read_metrics, require, run_dir, write_metrics
from .train import ClassifierConfig, PDTConfig

# ---------------------------------------------------------------- run folder

def folder(p) -> Path:
    """reports/<run>/ of these parameters."""
    return run_dir(p.run)


# ---------------------------------------------------------------- corpus and features

def corpus_table(p) -> tuple[pd.DataFrame, dict]:
    """The utterance table of the corpus the parameters name, and what it took to get it.

    synthetic: generated (or reused) under data/synthetic/ and read by load_iemocap, like IEMOCAP.
    iemocap:   `iemocap_root` read by load_iemocap with `split`.
    manifest:  the CSV at `manifest` read by load_manifest (its own split column).
    """
    if p.corpus == "iemocap" and not p.iemocap_root:
        raise ValueError("corpus 'iemocap' needs iemocap_root, the folder holding Session1..Session5: "
                         "make report PARAMS=params/iemocap.yaml IEMOCAP_ROOT=/path/to/IEMOCAP_full_release")
    if p.corpus == "manifest" and not p.manifest:
        raise ValueError("corpus 'manifest' needs manifest, a CSV with path,label,speaker,split: "
                         "make report CORPUS=manifest MANIFEST=my_corpus.csv (see README)")
    synthetic = SyntheticConfig(seed=p.seed, scale=p.synthetic_scale)
    arguments = {"synthetic": {"config": synthetic, "split": p.split},
                 "iemocap": {"root": p.iemocap_root, "split": p.split},
                 "manifest": {"csv_path": p.manifest}}
    sources = {"synthetic": default_root(synthetic), "iemocap": p.iemocap_root, "manifest": p.manifest}
    if p.corpus not in arguments:
        raise ValueError(f"corpus {p.corpus!r}: choose one of {sorted(arguments)}")
    start = time.perf_counter()
    table = load_corpus(p.corpus, **arguments[p.corpus])
    return table, {"corpus": p.corpus, "source": paths.shown(sources[p.corpus]), "utterances": len(table),
                   "load_s": round(time.perf_counter() - start, 1)}


def save_table(run: Path, table: pd.DataFrame) -> Path:
    with atomic_path(run / "work" / "corpus.csv") as tmp:
        table.to_csv(tmp, index=False)
    return run / "work" / "corpus.csv"


def run_table(run: Path) -> pd.DataFrame:
    """The utterance table notebook 01 resolved for this run, checked again."""
    path = require(run / "work" / "corpus.csv", "01_data", "the run's utterance table")
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

def encoder_config(channels) -> EncoderConfig:
    return EncoderConfig(channels=tuple(int(c) for c in channels))


def pdt_config(p) -> PDTConfig:
    """The PDT's training config; its input duration is the features' (`duration`)."""
    return PDTConfig(encoder=encoder_config(p.encoder_channels), mode=p.pdt_mode, lam=p.pdt_lambda,
                     margin=p.pdt_margin, lr=p.pdt_lr, batch_size=p.pdt_batch,
                     pairs_per_epoch=p.pdt_pairs_per_epoch, epochs=p.pdt_epochs,
                     evals_per_epoch=p.pdt_evals_per_epoch, seed=p.seed)


def classifier_config(p) -> ClassifierConfig:
    """The traditional baseline's training config; its duration is the features' it is given."""
    return ClassifierConfig(encoder=encoder_config(p.encoder_channels), lr=p.baseline_lr,
                            batch_size=p.baseline_batch, epochs=p.baseline_epochs, seed=p.seed)


def pdt_dir(run: Path) -> Path:
    return run / "checkpoints" / "pdt"


def baseline_dir(run: Path, duration: float) -> Path:
    return run / "checkpoints" / f"traditional_{duration:g}s"


def load_pdt_encoder(run: Path) -> tuple[AudioEncoder, dict]:
    """The encoder of the PDT checkpoint selected on validation (best.pt), in eval mode, and what
    checkpoints.load_encoder says of it (its config, features and selection)."""
    return load_encoder(require(pdt_dir(run) / "best.pt", "03_train_pdt", "the trained PDT (best.pt)"))


# ---------------------------------------------------------------- vectors

def save_vectors(run: Path, table: pd.DataFrame, vectors: np.ndarray) -> Path:
    """work/vectors.npz: the 256-D vectors with utterance ids, labels and splits."""
    path = run / "work" / "vectors.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, vectors=vectors.astype(np.float32), utterance_id=table["utterance_id"].to_numpy(str),
                     label=table["label"].to_numpy(str), split=table["split"].to_numpy(str),
                     speaker=table["speaker"].astype(str).to_numpy(str))
    return path


def load_vectors(run: Path) -> dict:
    path = require(run / "work" / "vectors.npz", "04_svm_eval", "the PDT vectors")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------- scores and tables

def protocol(table: pd.DataFrame, **choices) -> str:
    """One line naming what trained and what tested, e.g. 'train sessions 1,2,3 / val 4 / test 5'."""
    parts = []
    for split in ("train", "val", "test"):
        sessions = sorted(table.loc[table["split"] == split, "session"].dropna().astype(str).unique())
        parts.append(f"{split} {','.join(sessions) if sessions else '?'}")
    text = "sessions: " + " / ".join(parts)
    return text + "".join(f"; {k.replace('_', ' ')} {v}" for k, v in choices.items())


def score_test(run: Path, name: str, table: pd.DataFrame, y_true, y_pred, **extra) -> dict:
    """UA, WA, recalls and confusion of test predictions, written to metrics/<name>.json."""
    m = evaluate_predictions(y_true, y_pred)
    metrics = {"ua": m["ua"], "wa": m["wa"], "n": int(m["n"]), "recall": m["recall"],
               "confusion": np.asarray(m["confusion"]).tolist(), **extra,
               "protocol": protocol(table, **({"svm refit on": extra["refit_on"]} if "refit_on" in extra else {}))}
    write_metrics(run, name, metrics)
    return metrics


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
    """The paper's five rows with this run's UA and WA (percent) from the metrics of 01, 04 and 05.

    A traditional duration left out of `baseline_durations` stays empty (NaN)."""
    corpus = read_metrics(run, "data", "01_data")["corpus"]
    rows = []
    for row in PAPER_TABLE3:
        if row["method"] != "traditional":
            m = read_metrics(run, "pdt_svm", "04_svm_eval")
        elif row["duration"] in [float(d) for d in p.baseline_durations]:
            m = read_metrics(run, f"traditional_{row['duration']:g}s", "05_traditional_baselines")
        else:
            m = {"ua": float("nan"), "wa": float("nan")}
        rows.append({**row, "ua": round(100 * m["ua"], 2), "wa": round(100 * m["wa"], 2),
                     "corpus": corpus, "protocol": m.get("protocol", ""), "seed": p.seed})
    return pd.DataFrame(rows)


def write_table3(run: Path, table: pd.DataFrame, notes: tuple[str, ...] = ()) -> Path:
    """reports/<run>/table3.csv and table3.md: the paper's UA beside this run's UA and WA."""
    last = table.iloc[-1]
    notes = (f"Corpus: {last['corpus']}; {last['protocol']}; seed {last['seed']}.",
             "UA = mean per-class recall (balanced accuracy), WA = plain accuracy, both on the test split, in %.",
             *notes)
    shown = table.drop(columns=["corpus", "protocol", "seed"]).rename(columns={
        "exp": "Exp", "method": "Method", "duration": "Duration (s)", "paper_ua": "Paper UA",
        "ua": "This run UA", "wa": "This run WA"})
    return write_table(run, "table3", table, f"Table 3: UA on the test split, run `{run.name}`", notes, shown)


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
