"""Evaluation of utterance vectors (paper §4): SVM on the 256-D vectors, UA and WA, t-SNE.

The paper feeds the encoder's 256-D vectors to a scikit-learn SVM and reports the
unweighted accuracy (UA) on Session 5 (Table 3); Fig. 3 is a t-SNE of the training
vectors and Fig. 4 the test confusion matrix. Everything here works on numpy arrays:
`vectors` (n, d) floats, `labels` (n,) ints indexing `pdtlib.EMOTIONS`, and `splits`
(n,) strings "train" (Sessions 1-3), "val" (Session 4) or "test" (Session 5).

Choices the paper leaves open, made here:
- SVM hyper-parameters (kernel, C, gamma) are chosen on Session 4 only, by UA
  (`scoring="balanced_accuracy"`); test rows never reach `fit_svm`.
- After selection the SVM is refit on Sessions 1-4 by default (`refit_on=("train", "val")`),
  as `GridSearchCV(refit=True)` would do when fit on train + val; `refit_on=("train",)`
  refits on Sessions 1-3 only, the model the validation UA was measured on.

Training selects its checkpoints on the validation split with `linear_probe` (on numpy vectors)
and the pair metrics of `evaluate_pairs` (on the encoder's torch vectors and the discriminator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.manifold import TSNE
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .. import EMOTIONS
from ..losses import pdt_loss
from ..pairs import PairSet

UA_DEFINITION = ("UA (unweighted accuracy) = mean over the classes of the per-class recall "
                 "(correct predictions of a class / utterances of that class); chance = 25% "
                 "for 4 classes whatever the class balance. sklearn.metrics.balanced_accuracy_score.")
WA_DEFINITION = ("WA (weighted accuracy) = correct predictions / all utterances, i.e. per-class "
                 "recall weighted by class frequency. sklearn.metrics.accuracy_score.")
F1_DEFINITION = ("macro-F1 = mean over the 4 classes of F1 = 2 precision recall / (precision + recall); "
                 "a class never predicted counts 0. sklearn.metrics.f1_score(average='macro').")
CHANCE_UA = 1 / len(EMOTIONS)

# Table 3 of the paper: UA (%) on Session 5. The one place these numbers live.
PAPER_TABLE3 = [
    {"exp": 1, "method": "traditional", "duration": 4.0, "paper_ua": 51.09},
    {"exp": 2, "method": "traditional", "duration": 5.0, "paper_ua": 54.71},
    {"exp": 3, "method": "traditional", "duration": 6.0, "paper_ua": 53.26},
    {"exp": 4, "method": "traditional", "duration": 7.0, "paper_ua": 55.36},
    {"exp": 5, "method": "PDT + SVM", "duration": 4.0, "paper_ua": 56.33},
]

# 4 linear + 12 rbf settings = 16 fits on the validation fold plus one refit: a few
# seconds on ~1000 standardised 256-D vectors on one core. C spans 4 decades; the rbf
# gammas bracket "scale" (= 1 / (n_features * var) = 1/256 after scaling) by a decade.
DEFAULT_PARAM_GRID = [
    {"svc__kernel": ["linear"], "svc__C": [0.001, 0.01, 0.1, 1.0]},
    {"svc__kernel": ["rbf"], "svc__C": [0.1, 1.0, 10.0, 100.0], "svc__gamma": ["scale", 1e-3, 1e-2]},
]


def unweighted_accuracy(y_true, y_pred) -> float:
    """UA: mean per-class recall over the classes present in `y_true` (see UA_DEFINITION).

    Published SER repositories have swapped UA and WA, or computed UA from precision;
    the paper's UA is the class-balanced recall, i.e. balanced_accuracy_score(adjusted=False).
    """
    return float(balanced_accuracy_score(y_true, y_pred, adjusted=False))


def weighted_accuracy(y_true, y_pred) -> float:
    """WA: plain accuracy (see WA_DEFINITION); not to be confused with UA, see `unweighted_accuracy`."""
    return float(accuracy_score(y_true, y_pred))


@dataclass
class SVMResult:
    pipeline: Pipeline  # StandardScaler + SVC with best_params, refit on the `refit_on` splits
    best_params: dict
    val_ua: float  # UA on Session 4 of the best setting, fit on train only
    cv_results: pd.DataFrame  # GridSearchCV.cv_results_, one row per setting
    refit_on: tuple[str, ...]


@dataclass
class SVMConfig:
    """The SVM of rows 5-7 after selection on the val split (the parameter `svm_refit_on`)."""

    refit_on: str = "train+val"  # "train+val" (GridSearchCV(refit=True) on train + val) or "train"

    def __post_init__(self):
        if self.refit_on not in ("train", "train+val"):
            raise ValueError(f"{self.refit_on!r}: choose one of ('train', 'train+val')")

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits fit_svm refits on."""
        return tuple(self.refit_on.split("+"))


@dataclass
class TSNEConfig:
    """Fig. 3's t-SNE (the parameter `tsne_perplexity`)."""

    perplexity: float = 30.0

    def __post_init__(self):
        if not self.perplexity > 0:
            raise ValueError(f"{self.perplexity} must be > 0")


def svm_pipeline(seed: int = 0) -> Pipeline:
    """Scaler inside the pipeline so it is fit on the SVM's training rows only.

    class_weight="balanced" suits the UA target. No probability=True (its internal CV
    makes predict_proba disagree with predict): scores come from decision_function.
    `random_state` only matters for probability estimates; kept for completeness.
    """
    return Pipeline([("scaler", StandardScaler()),
                     ("svc", SVC(class_weight="balanced", random_state=seed))])


def fit_svm(vectors, labels, splits, *, param_grid=None, refit_on=("train", "val"), seed=0,
            n_jobs=1) -> SVMResult:
    """Choose kernel/C/gamma on the "val" rows by UA, then refit on the `refit_on` rows.

    Only "train" and "val" rows are used; "test" rows (and any other) are dropped before
    anything is fit. `n_jobs=1` by default: the project's machines are small and shared.
    """
    refit_on = tuple(refit_on)
    if not refit_on or not set(refit_on) <= {"train", "val"}:
        raise ValueError(f"refit_on must be a non-empty subset of ('train', 'val'), got {refit_on}")
    vectors, labels, splits = np.asarray(vectors), np.asarray(labels), np.asarray(splits).astype(str)
    used = np.isin(splits, ("train", "val"))
    x, y, s = vectors[used], labels[used], splits[used]
    if not (s == "train").any() or not (s == "val").any():
        raise ValueError("fit_svm needs both 'train' and 'val' rows")

    # -1: always in the training part; 0: the single validation fold.
    cv = PredefinedSplit(np.where(s == "val", 0, -1))
    search = GridSearchCV(svm_pipeline(seed), param_grid or DEFAULT_PARAM_GRID,
                          scoring="balanced_accuracy", cv=cv, refit=False, n_jobs=n_jobs)
    search.fit(x, y)
    # Refit by hand so both choices share one code path; for ("train", "val") this is
    # exactly what refit=True does after fitting on train + val.
    rows = np.isin(s, refit_on)
    pipeline = clone(search.estimator).set_params(**search.best_params_).fit(x[rows], y[rows])
    return SVMResult(pipeline=pipeline, best_params=dict(search.best_params_),
                     val_ua=float(search.best_score_), cv_results=pd.DataFrame(search.cv_results_),
                     refit_on=refit_on)


def recall_from_confusion(counts) -> np.ndarray:
    """Per-class recall (diagonal of the row-normalised matrix); NaN for a class with no rows."""
    counts = np.asarray(counts, dtype=float)
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(counts) / support, np.nan)


def row_normalize(counts) -> np.ndarray:
    """Each row divided by its sum (rows: true class); all-zero rows stay zero."""
    counts = np.asarray(counts, dtype=float)
    support = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, support, out=np.zeros_like(counts), where=support > 0)


def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the four classes (see F1_DEFINITION)."""
    return float(f1_score(y_true, y_pred, labels=range(len(EMOTIONS)), average="macro", zero_division=0))


def largest_confusions(counts, k: int = 3) -> list[tuple[str, str, float]]:
    """The k largest off-diagonal shares of the row-normalised confusion (rows true, EMOTIONS
    order): [(true, predicted, share of the true class), ...], largest first."""
    share = row_normalize(counts)
    off = [(share[i, j], i, j) for i in range(len(share)) for j in range(len(share)) if i != j and share[i, j] > 0]
    return [(EMOTIONS[i], EMOTIONS[j], float(v)) for v, i, j in sorted(off, key=lambda t: (-t[0], t[1], t[2]))[:k]]


def evaluate_predictions(y_true, y_pred) -> dict:
    """UA, WA, macro-F1, per-class recall, the classes predicted at all, and the 4x4 confusion
    (rows true, columns predicted, EMOTIONS order)."""
    counts = confusion_matrix(y_true, y_pred, labels=range(len(EMOTIONS)))
    recall = recall_from_confusion(counts)
    return {
        "ua": unweighted_accuracy(y_true, y_pred),
        "wa": weighted_accuracy(y_true, y_pred),
        "f1": macro_f1(y_true, y_pred),
        "classes_predicted": int((counts.sum(axis=0) > 0).sum()),
        "recall": dict(zip(EMOTIONS, recall.tolist())),
        "confusion": counts,
        "confusion_normalized": row_normalize(counts),
        "n": int(counts.sum()),
    }


def quality_notes(metrics: dict) -> list[str]:
    """What a reader should know about a result that is valid but weak: UA near chance, classes
    never predicted. Notes, not failures: a report states them beside the number and goes on."""
    notes = []
    if metrics["ua"] < CHANCE_UA + 0.05:
        notes.append(f"UA {100 * metrics['ua']:.1f}% is within 5 points of chance ({100 * CHANCE_UA:.0f}%)")
    predicted = np.asarray(metrics["confusion"]).sum(axis=0)
    never = [e for e, n in zip(EMOTIONS, predicted) if n == 0]
    if never:
        notes.append(f"predicts {len(EMOTIONS) - len(never)} of {len(EMOTIONS)} classes on test "
                     f"(never {', '.join(never)})")
    return notes


def linear_probe(train_vectors, train_labels, val_vectors, val_labels) -> dict:
    """How well vectors separate the emotions, cheaply: a class-balanced logistic regression on
    standardised vectors, fit on the training rows, scored on the validation rows.

    The PDT's checkpoints are chosen with it (train.PDTTrainer): unlike the validation pair
    accuracy, which can sit at the share of "different" pairs for a whole run, it measures what
    the SVM of §4.1 will be asked to do. Returns {"val_ua", "val_wa", "val_f1"}.
    """
    probe = Pipeline([("scaler", StandardScaler()),
                      ("logreg", LogisticRegression(class_weight="balanced", max_iter=2000))])
    predicted = probe.fit(train_vectors, train_labels).predict(val_vectors)
    return {"val_ua": unweighted_accuracy(val_labels, predicted), "val_wa": weighted_accuracy(val_labels, predicted),
            "val_f1": macro_f1(val_labels, predicted)}


def best_threshold_accuracy(score: np.ndarray, same: np.ndarray) -> float:
    """Accuracy of `same iff score > t` at the best threshold t (decide "same" for the top k, best k)."""
    hits = same[np.argsort(-score, kind="stable")].astype(np.int64)
    tp = np.concatenate([[0], np.cumsum(hits)])  # same pairs among the top k, k = 0..n
    k = np.arange(len(hits) + 1)
    return float((tp + (len(hits) - hits.sum()) - (k - tp)).max() / len(hits))


def evaluate_pairs(discriminator: nn.Module, vectors: torch.Tensor, rows: np.ndarray, pairs: PairSet, *,
                   lam: float, margin: float) -> dict:
    """Loss (eq. 1 at `lam` and `margin`) and accuracy on a fixed pair set, from the eval-mode vectors
    (n, 256) of the sorted `rows`.

    val_acc:      the discriminator's decision (softmax argmax).
    val_cos_acc:  "same iff cos > t", t the best threshold on these pairs: the decision the
                  cosine loss trains (λ = 1 trains no discriminator).
    val_pair_acc: the better of the two.
    """
    za = vectors[torch.as_tensor(np.searchsorted(rows, pairs.a), device=vectors.device)]  # (P, 256)
    zb = vectors[torch.as_tensor(np.searchsorted(rows, pairs.b), device=vectors.device)]
    same = torch.as_tensor(pairs.same, device=vectors.device)
    with torch.no_grad():
        logits = torch.cat([discriminator(a, b).float() for a, b in zip(za.split(65536), zb.split(65536))])
        loss = pdt_loss(za, zb, logits, same, lam=lam, margin=margin)
        acc = (logits.argmax(1) == same.long()).float().mean().item()
        cos = F.cosine_similarity(za, zb, dim=1).cpu().numpy()
    cos_acc = best_threshold_accuracy(cos, pairs.same)
    return {"val_loss": loss.total.item(), "val_cos_loss": loss.cosine.item(), "val_cro_loss":
            loss.cross_entropy.item(), "val_acc": acc, "val_cos_acc": cos_acc, "val_pair_acc": max(acc, cos_acc)}


def classification_summary(confusion_counts) -> pd.DataFrame:
    """One row per emotion of a (4, 4) confusion (rows true, columns predicted): support, number
    predicted, recall, precision (NaN where undefined)."""
    counts = np.asarray(confusion_counts)
    predicted = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, np.diag(counts) / predicted, np.nan)
    return pd.DataFrame({"support": counts.sum(axis=1), "predicted": predicted,
                         "recall": recall_from_confusion(counts), "precision": precision},
                        index=pd.Index(EMOTIONS, name="emotion"))


def compare_with_paper(table_df: pd.DataFrame) -> pd.DataFrame:
    """PAPER_TABLE3 with this run's UA (%) beside it: `table_df` needs columns exp and ua (percent).
    Rows beyond the paper's five (exp 6, 7, ...) follow with their own method and duration and no
    paper UA."""
    run = table_df[["exp", "ua"]]
    if run["ua"].notna().any() and run["ua"].max() <= 1.0:
        raise ValueError("ua must be in percent like the paper's Table 3 (got values <= 1)")
    paper = pd.DataFrame(PAPER_TABLE3)
    extra = table_df.loc[~table_df["exp"].isin(paper["exp"]), [c for c in ("exp", "method", "duration")
                                                               if c in table_df]]
    out = pd.concat([paper, extra], ignore_index=True).merge(run, on="exp", how="left")
    out["diff"] = out["ua"] - out["paper_ua"]
    return out


def tsne(vectors, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (Fig. 3), deterministic for a given seed (init="pca", fixed random_state).

    sklearn requires perplexity < n_samples; it is clipped to (n - 1) / 3 so that smoke
    runs on ~20 vectors work (each point then still has ~3 * perplexity neighbours).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    perplexity = float(min(perplexity, max(1.0, (len(vectors) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=seed).fit_transform(vectors)
