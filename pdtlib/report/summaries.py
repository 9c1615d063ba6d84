"""Each notebook's result in words, computed from what it wrote: the last line a reader sees.

One function per notebook, each taking that notebook's outputs (tables, metrics, vectors) and
returning a sentence or two, so that an executed notebook reads as a report on its own, e.g.
"PDT + SVM: UA 62.1%, WA 61.3%, macro-F1 60.4% on 248 test utterances; most confused:
happy → angry (48%)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from .. import EMOTIONS
from ..corpora.table import SPLITS
from ..evaluation.evaluate import largest_confusions, recall_from_confusion


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _confusions(counts, k: int = 2) -> str:
    return ", ".join(f"{true} → {predicted} ({100 * share:.0f}%)"
                     for true, predicted, share in largest_confusions(counts, k))


def data(table: pd.DataFrame, durations, reference_ua: float) -> str:
    """01: the corpus, its splits and speakers, the cached durations, the reference's validation UA."""
    splits = " / ".join(f"{s} {n}" for s, n in table["split"].value_counts().reindex(["train", "val", "test"]).items())
    return (f"{len(table)} utterances ({splits}) from {table['speaker'].nunique()} speakers; spectrograms cached at "
            f"{', '.join(f'{d:g}' for d in durations)} s; the spectral-statistics reference scores "
            f"{_pct(reference_ua)} UA on the validation split (chance 25%).")


def pairing(summary: dict) -> str:
    """02: the positive share of sampled pairs, in-batch pairs per step, the evaluation pairs."""
    return (f"Sampled pairs: {_pct(summary['sampled_positive_share'])} of the same emotion (paper: 33%); in-batch: "
            f"{summary['in_batch_pairs_per_step']:,} pairs per step, same-emotion weight "
            f"{summary['in_batch_positive_weight']:.3f}; {summary['evaluation_pairs']:,} fixed validation pairs.")


def training(chosen: dict, log: pd.DataFrame, selection_text: str) -> str:
    """03: how long the PDT trained and what validation chose, with both signals' ranges."""
    pairs = int(log["pairs_seen"].max()) if "pairs_seen" in log else 0
    pair_acc, ua = log["val_pair_acc"].dropna(), log["val_ua"].dropna()
    return (f"PDT trained on {pairs:,} pairs; chosen on validation: {selection_text}. Over the run the validation "
            f"pair accuracy ranged {pair_acc.min():.3f}-{pair_acc.max():.3f} and the probe's validation UA "
            f"{_pct(ua.min())}-{_pct(ua.max())}.")


def svm(name: str, metrics: dict) -> str:
    """04 (and rows 6-7): a row's test scores and its largest confusions."""
    return (f"{name}: UA {_pct(metrics['ua'])}, WA {_pct(metrics['wa'])}, macro-F1 {_pct(metrics['f1'])} on "
            f"{metrics['n']} test utterances; most confused: {_confusions(metrics['confusion'])}.")


def baselines(scores: dict, rows: dict) -> str:
    """05: the traditional rows by duration, then rows 6-7."""
    traditional = ", ".join(f"{d:g} s {_pct(m['ua'])}" for d, m in scores.items())
    others = "; ".join(f"{name} {_pct(m['ua'])}" for name, m in rows.items())
    return f"Traditional method, test UA: {traditional}" + (f"; {others}." if others else ".")


def tsne(points: np.ndarray, labels: np.ndarray, k: int = 10) -> str:
    """06: how well the classes group in Fig. 3: per class, the share of each point's k nearest
    neighbours in the 2-D map that share its class (chance: the class's share of the points)."""
    labels = np.asarray(labels)
    k = min(k, len(points) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)  # (n, k + 1), self first
    same = (labels[idx[:, 1:]] == labels[:, None]).mean(axis=1)  # (n,)
    parts = [f"{e} {100 * same[labels == c].mean():.0f}% (chance {100 * np.mean(labels == c):.0f}%)"
             for c, e in enumerate(EMOTIONS) if (labels == c).any()]
    return f"Fig. 3, {len(points)} training vectors; neighbours in the map of the same class: " + ", ".join(parts) + "."


def confusion(counts) -> str:
    """07: the best and worst recognised classes and the largest confusions."""
    recall = recall_from_confusion(counts)
    order = [i for i in np.argsort(-np.nan_to_num(recall, nan=-1)) if not np.isnan(recall[i])]
    best, worst = order[0], order[-1]
    return (f"Fig. 4: best recognised {EMOTIONS[best]} ({100 * recall[best]:.0f}% recall), worst {EMOTIONS[worst]} "
            f"({100 * recall[worst]:.0f}%); largest confusions: {_confusions(counts, 3)}.")


def table3(table: pd.DataFrame) -> str:
    """08: the PDT's row against the traditional rows, here and in the paper, and the best row."""
    rows = table.set_index("exp")
    traditional = rows.loc[rows["method"] == "traditional", "ua"].dropna()
    best = rows["ua"].idxmax()
    against = (f"against the traditional method's {traditional.min():.1f}-{traditional.max():.1f}% "
               if len(traditional) else "")
    return (f"PDT + SVM {rows.at[5, 'ua']:.1f}% UA {against}(paper: 56.3% against 51.1-55.4%); the best row is "
            f"{best} ({rows.at[best, 'method']}, {rows.at[best, 'ua']:.1f}%).")


# ---------------------------------------------------------------- phrases the tables and notebooks share

def selection_text(chosen: dict) -> str:
    """'lr 0.001, 3,200 passes = 6.5 epochs (val UA 61.2%); final run 28,000 passes = 40.0 epochs of
    train + val, weights averaged (decay 0.99)' (a traditional row: what validation chose, and what
    the final run trained, the floor of min_epochs included) or 'lr 0.001, checkpoint at step 380 =
    12,160 passes (val UA 58.0%)' (the PDT)."""
    where = (f"{chosen['passes']:,} passes = {chosen['epoch']:.1f} epochs" if "final" in chosen
             else f"checkpoint at step {chosen['step']} = {chosen['passes']:,} passes")
    name = {"val_ua": "val UA"}.get(chosen["metric"], chosen["metric"])
    text = f"lr {chosen['lr']:g}, {where} ({name} {100 * chosen['value']:.1f}%)"
    final = chosen.get("final", {})
    if "epochs" in final:
        text += f"; final run {final['passes']:,} passes = {final['epochs']:.1f} epochs of train + val"
        if final.get("weight_average"):
            text += f", weights averaged (decay {final['weight_average']:g})"
    return text


def svm_text(svm) -> str:
    """'SVM rbf, C 10, gamma scale (val UA 63.2%)': what evaluate.fit_svm chose on validation."""
    chosen = {k.removeprefix("svc__"): v for k, v in svm.best_params.items()}
    detail = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in chosen.items() if k != "kernel")
    return f"SVM {chosen.get('kernel', '?')}, {detail} (val UA {100 * svm.val_ua:.1f}%)"


def padding_note(table: pd.DataFrame, durations) -> str:
    """How much of the corpus the feature code pads: a corpus of short (or cut) files is mostly
    padding at 7 s, which the reader should know."""
    seconds = table["duration_s"].to_numpy(dtype=float)
    shares = ", ".join(f"{100 * np.mean(seconds < d):.0f}% at {d:g} s" for d in sorted(durations))
    padded = [d for d in sorted(durations) if d > 4 and np.mean(seconds < d) > 0.75]
    return (f"Utterances shorter than the clip and padded to it ({shares}); median length "
            f"{np.median(seconds):.1f} s."
            + (f" At {', '.join(f'{d:g}' for d in padded)} s more than three quarters of the utterances are padded: "
               "those rows test padding more than longer context on this corpus (a study leaves them out)."
               if padded else ""))


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
