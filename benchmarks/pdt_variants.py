"""Why does the pair task learn slowly on real speech, and what helps features travel to new speakers?
One training run per variant on one split of a manifest (its fixed split or a recipe's fold), the whole
validation curve seen.

    .venv/bin/python benchmarks/pdt_variants.py [--manifest ../shared/data/ravdess4/manifest.csv]
                                                [--steps 400] [--only default lam0.5 ...]
                                                [--split fold:K/6] [--seed 0] [--egemaps]

Issue 27 asks for these measurements on RAVDESS. Each variant is the default report's training
config (params/default.yaml: in-batch PDT, λ 0.9, m 0.1, lr 1e-3, bf16 where native, seed 0, one
thread) changed in one thing, trained **without early stopping** (patience 0) for `--steps` steps
(400 = 12,800 passes = 33 epochs of RAVDESS's 391 training utterances), so that nothing is chosen
and the whole curve is seen. The test split is never read. Variants:

    default          as the report trains
    lam0.5, lam0     λ of eq. 1 (how much of the gradient the cosine term carries; 0: cross entropy only)
    m0, m0.3         the cosine margin m
    warmup100        100 steps of linear learning-rate warm-up
    pos0.5           in-batch pairs weighted 1 : 1 instead of the paper's 1 : 2 (positive_fraction)
    sampled          the paper's independently sampled pairs (batch norm sees unbalanced pair
                     batches; the default in-batch batches are class-balanced)
    disc_xavier      the discriminator's layers Xavier-initialised, biases 0 (default: PyTorch's)
    wd0.01           decoupled weight decay 0.01 (AdamW)
    dropout0.3       dropout 0.3 before the encoder's last FC (training only)
    small            a smaller encoder: channels 8, 16, 32, 64, 64 instead of 16, 32, 64, 128, 128
    spk_z            every utterance standardised per frequency bin with its speaker's mean and
                     standard deviation (over all that speaker's utterances and frames, labels never
                     read): speaker normalisation, as SER front ends do for new speakers
    vtlp             vocal-tract-length perturbation: each training utterance's frequency axis
                     stretched by a factor drawn from [0.9, 1.1] (linear interpolation between bins),
                     a new draw every step: speaker variation the 14 training actors do not span
    noise            additive noise: each training utterance's power spectrogram plus white noise
                     (exponentially distributed power per bin and frame) at an SNR drawn from
                     [10, 30] dB of the utterance's mean power, a new draw every step
    ema              evaluations and the kept checkpoint see an exponential moving average of the
                     weights (decay 0.99 a step, ~100 steps), batch norm recalibrated for it
    lr1e-4           learning rate 1e-4 instead of 1e-3 (smaller steps: a flatter path, slower to fit the actors)
    mix              same-class mixing: each training utterance's power spectrogram plus, at weight
                     1 - w, w ~ U(0.5, 1), another utterance of its label in the batch
    trad_default, trad_wd0.01, trad_dropout0.3, trad_small, trad_warmup100, trad_spk_z, trad_vtlp, trad_noise,
    trad_ema, trad_mix, trad_lr1e-4
    trad_balanced    the classifier's cross entropy weighted per class, n / (k n_c) over its training rows:
                     UA's weighting, as the SVM, the probe and the PDT's balanced batches have (RAVDESS
                     has half as many neutral utterances as of each other class)
                     the traditional classifier (train split, validation UA), the same changes

Printed per variant, from the run's log: the probe's validation UA at step 0 (the untrained
encoder; PDT only), the training accuracy (the PDT's: pair accuracy on its training pairs) at step
150 and at the end, the best validation UA after step 0 and its step, the validation pair accuracy's
range, and the wall time. `--egemaps` adds eGeMAPS + SVM's validation UA (Table 3 row 7's SVM,
its grid chosen on validation) without and with the functionals standardised by speaker (`--only
--egemaps`: that alone). Written to reports/bench-pdt-variants-<corpus>/variants.csv. When the
manifest is absent it says so and exits 0: nothing a user runs needs it.
"""

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from pdtlib import label_index
from pdtlib.evaluation import egemaps
from pdtlib.evaluation.evaluate import fit_svm
from pdtlib.features import FeatureSet
from pdtlib.report import params as report_params
from pdtlib.report import pipeline
from pdtlib.system import paths
from pdtlib.training.inference import pick_device
from pdtlib.training.train import ClassifierTrainer, PDTTrainer

DEFAULT_MANIFEST = paths.PROJ_ROOT.parent / "shared" / "data" / "ravdess4" / "manifest.csv"
SMALL = (8, 16, 32, 64, 64)


def weight_decay(value):
    def patch(trainer):
        for group in trainer.optimizer.param_groups:  # Adam with decoupled decay is AdamW
            group["weight_decay"], group["decoupled_weight_decay"] = value, True
    return patch


def dropout(p):
    def patch(trainer):
        encoder = trainer.model.encoder
        # (B, head_features) into the encoder's last FC; nothing at evaluation (module.training False)
        encoder.fc.register_forward_pre_hook(lambda module, args: (F.dropout(args[0], p, module.training),))
    return patch


def xavier_discriminator(trainer):
    torch.manual_seed(trainer.config.seed)
    for layer in trainer.model.discriminator.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def by_speaker(x, speakers):
    """(N, D, ...) rows standardised per feature (axis 1) with their speaker's mean and standard
    deviation over all that speaker's rows and any further axes (frames), float32; labels never read,
    every split alike (a deployed system sees a new speaker's recordings)."""
    x = np.asarray(x, dtype=np.float32)  # a copy in memory
    out, axes = np.empty_like(x), (0, *range(2, x.ndim))
    for rows in pd.Series(np.asarray(speakers)).groupby(np.asarray(speakers)).indices.values():
        mean = x[rows].mean(axis=axes, keepdims=True)  # (1, D, 1...)
        out[rows] = (x[rows] - mean) / np.maximum(x[rows].std(axis=axes, keepdims=True), 1e-3)
    return out


def speaker_normalized(fs):
    """`fs` with each (257, T) spectrogram standardised per bin by its speaker (`by_speaker`)."""
    return FeatureSet(by_speaker(fs.features, fs.table["speaker"]), fs.table, fs.config)


def egemaps_rows(table) -> list[dict]:
    """eGeMAPS + SVM (Table 3 row 7: the SVM's grid chosen on validation) without and with the
    88 functionals standardised by speaker: the validation UA of each."""
    x = egemaps.egemaps_features(table, workers=1)  # (N, 88), cached
    labels, splits = label_index(table["label"]).to_numpy(), table["split"].to_numpy()
    return [{"variant": f"egemaps_{name}", "best_val_ua": 100 * fit_svm(v, labels, splits).val_ua}
            for name, v in (("default", x), ("spk_z", by_speaker(x, table["speaker"])))]


def frequency_warp(x, generator, low=0.9, high=1.1):
    """(B, F, T) -> (B, F, T): bin f of each utterance read at f / alpha, alpha ~ U(low, high) per
    utterance, linear interpolation between bins, the edge bin past the end (VTLP, Jaitly & Hinton 2013)."""
    b, f, t = x.shape
    alpha = low + (high - low) * torch.rand(b, 1, generator=generator)  # (B, 1)
    pos = (torch.arange(f, dtype=torch.float32)[None] / alpha).clamp(max=f - 1).to(x.device)  # (B, F)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=f - 1)
    w = (pos - i0)[..., None]  # (B, F, 1)
    take = lambda i: x.gather(1, i[..., None].expand(b, f, t))  # noqa: E731
    return (1 - w) * take(i0) + w * take(i1)


def added_noise(x, generator, low_db=10.0, high_db=30.0):
    """(B, F, T) log-power -> (B, F, T): log(power + noise), the noise white with exponentially
    distributed power per bin and frame (a Gaussian signal's periodogram), its mean at an SNR drawn
    per utterance from [low_db, high_db] below the utterance's mean power."""
    b = x.shape[0]
    snr_db = low_db + (high_db - low_db) * torch.rand(b, 1, 1, generator=generator)  # (B, 1, 1)
    level = torch.logsumexp(x.flatten(1), 1)[:, None, None] - np.log(x[0].numel())  # log mean power (B, 1, 1)
    log_noise = level - snr_db.to(x.device) * np.log(10) / 10
    draws = torch.empty(x.shape).exponential_(generator=generator).log().to(x.device)  # (B, F, T)
    return torch.logaddexp(x, log_noise + draws)


class Augmented:
    """A FeatureBatches whose training batches go through `fn(x, generator)`; the generator is
    seeded from (seed, step), so a run is reproducible."""

    def __init__(self, plain, fn, seed):
        self.plain, self.fn, self.seed, self.generator = plain, fn, seed, torch.Generator()

    def at(self, step):
        self.generator.manual_seed(1_000_003 * (self.seed + 1) + step)
        return self

    def __call__(self, rows):
        return self.fn(self.plain(rows), self.generator)

    def __getattr__(self, name):
        return getattr(self.plain, name)


def augment(fn):
    """Training steps' batches through `fn`; evaluations and batch norm recalibration see the plain input."""
    def patch(trainer):
        plain, forward = trainer.batches, trainer.compute_forward
        augmented = Augmented(plain, fn, trainer.config.seed)

        def compute_forward(step):
            trainer.batches = augmented.at(step)
            try:
                return forward(step)
            finally:
                trainer.batches = plain
        trainer.compute_forward = compute_forward
    return patch


def weight_average(decay=0.99):
    """Evaluations (and best.pt) see an exponential moving average of the weights over the steps
    (horizon ~1 / (1 - decay) = 100 steps; at step t the decay is min(decay, (1 + t) / (10 + t)), as
    tf.train.ExponentialMovingAverage's num_updates, so the random initial weights fade from the start),
    batch norm recalibrated for them; training goes on from the raw weights. Averaging the weights along the trajectory (Polyak; SWA, Izmailov et al. 2018)
    smooths the step-to-step noise that makes the chosen checkpoint a draw."""
    def patch(trainer):
        params = [q for q in trainer.model.parameters() if q.requires_grad]
        average = [q.detach().clone() for q in params]
        fit_batch, log_point = trainer.fit_batch, trainer._log_point

        def fit_batch_averaged(step):
            metrics = fit_batch(step)
            with torch.no_grad():
                rate = 1 - min(decay, (1 + step) / (10 + step))
                torch._foreach_lerp_(average, [q.detach() for q in params], rate)
            return metrics

        def log_point_averaged(start_time):
            with torch.no_grad():
                raw = [q.detach().clone() for q in params]
                for q, a in zip(params, average):
                    q.copy_(a)
            try:
                return log_point(start_time)  # batch norm recalibrated, evaluated, checkpointed: the average
            finally:
                with torch.no_grad():
                    for q, r in zip(params, raw):
                        q.copy_(r)
        trainer.fit_batch, trainer._log_point = fit_batch_averaged, log_point_averaged
    return patch


def same_class_mix(trainer, low=0.5):
    """Training batches mixed within a class: each utterance's power spectrogram plus, at a weight
    1 - w with w ~ U(low, 1), that of another utterance of the same label in the batch (itself if
    none), so labels and pairs stay what they were and need no soft targets: both methods alike."""
    plain, forward, labels = trainer.batches, trainer.compute_forward, trainer.labels
    generator = torch.Generator()

    def mixed(rows):
        x = plain(rows)  # (B, F, T) log power
        y = labels[torch.as_tensor(np.asarray(rows)).to(labels.device)].cpu()  # (B,)
        partner = torch.arange(len(y))
        for c in y.unique():
            members = (y == c).nonzero().flatten()
            partner[members] = members[torch.randperm(len(members), generator=generator)]
        w = (low + (1 - low) * torch.rand(len(y), 1, 1, generator=generator)).to(x.device)  # (B, 1, 1)
        return torch.logaddexp(x + w.log(), x[partner.to(x.device)] + (1 - w).clamp_min(1e-6).log())

    class Mixed:
        __getattr__ = lambda self, name: getattr(plain, name)  # noqa: E731
        __call__ = lambda self, rows: mixed(rows)  # noqa: E731

    def compute_forward(step):
        generator.manual_seed(1_000_003 * (trainer.config.seed + 1) + step)
        trainer.batches = Mixed()
        try:
            return forward(step)
        finally:
            trainer.batches = plain
    trainer.compute_forward = compute_forward


def class_balanced_loss(trainer):
    """The classifier's cross entropy weighted n / (k n_c) per class c of its training rows (sklearn's
    class_weight="balanced"): each class counts the same, as UA counts them and as the SVM
    (SVC(class_weight="balanced")), the linear probe and the PDT's class-balanced batches already do."""
    counts = torch.bincount(trainer.labels[torch.as_tensor(trainer.pool)], minlength=4).float()  # (4,)
    weight = counts.sum() / (len(counts) * counts.clamp_min(1))

    def compute_objectives(outputs):
        logits, target = outputs["logits"], outputs["target"]
        return {"loss": F.cross_entropy(logits, target, weight=weight.to(logits.device)),
                "acc": (logits.argmax(1) == target).float().mean()}
    trainer.compute_objectives = compute_objectives


# name: (method, config changes, encoder changes, patch applied to the trainer before training)
VARIANTS = {
    "default": ("pdt", {}, {}, None),
    "lam0.5": ("pdt", {"lam": 0.5}, {}, None),
    "lam0": ("pdt", {"lam": 0.0}, {}, None),
    "m0": ("pdt", {"margin": 0.0}, {}, None),
    "m0.3": ("pdt", {"margin": 0.3}, {}, None),
    "warmup100": ("pdt", {"warmup": 100}, {}, None),
    "pos0.5": ("pdt", {"positive_fraction": 0.5}, {}, None),
    "sampled": ("pdt", {"mode": "sampled", "batch_size": 16}, {}, None),  # 16 pairs = 32 passes a step
    "disc_xavier": ("pdt", {}, {}, xavier_discriminator),
    "wd0.01": ("pdt", {}, {}, weight_decay(0.01)),
    "dropout0.3": ("pdt", {}, {}, dropout(0.3)),
    "small": ("pdt", {}, {"channels": SMALL}, None),
    "trad_default": ("classifier", {}, {}, None),
    "trad_wd0.01": ("classifier", {}, {}, weight_decay(0.01)),
    "trad_dropout0.3": ("classifier", {}, {}, dropout(0.3)),
    "trad_small": ("classifier", {}, {"channels": SMALL}, None),
    "trad_warmup100": ("classifier", {"warmup": 100}, {}, None),
    "spk_z": ("pdt", {}, {}, "speaker"),
    "vtlp": ("pdt", {}, {}, augment(frequency_warp)),
    "trad_spk_z": ("classifier", {}, {}, "speaker"),
    "trad_vtlp": ("classifier", {}, {}, augment(frequency_warp)),
    "noise": ("pdt", {}, {}, augment(added_noise)),
    "trad_noise": ("classifier", {}, {}, augment(added_noise)),
    "ema": ("pdt", {}, {}, weight_average(0.99)),
    "trad_ema": ("classifier", {}, {}, weight_average(0.99)),
    "mix": ("pdt", {}, {}, same_class_mix),
    "trad_mix": ("classifier", {}, {}, same_class_mix),
    "trad_balanced": ("classifier", {}, {}, class_balanced_loss),
    "lr1e-4": ("pdt", {"lr": 1e-4}, {}, None),
    "trad_lr1e-4": ("classifier", {"lr": 1e-4}, {}, None),
}


def config_of(p, method: str, steps: int, changes: dict, encoder: dict):
    """The report's training config for `method`, without early stopping, `steps` steps of 32 passes."""
    base = pipeline.pdt_config(p) if method == "pdt" else pipeline.classifier_config(p, select=True)
    return dataclasses.replace(base, encoder=dataclasses.replace(base.encoder, **encoder), patience=0,
                               max_passes=steps * 32, **changes)


def summary(name: str, log: pd.DataFrame, wall_s: float) -> dict:
    """One line of the table from a run's log (step 0 is the PDT's untrained encoder)."""
    trained = log[log["step"] > 0]
    best = trained.loc[trained["val_ua"].idxmax()]
    acc = log.set_index("step")["train_acc"].dropna()
    at_0 = log.loc[log["step"] == 0, "val_ua"]
    pair = log["val_pair_acc"] if "val_pair_acc" in log else pd.Series(dtype=float)
    return {"variant": name, "probe_step0": 100 * at_0.iloc[0] if len(at_0) else float("nan"),
            "acc_150": acc.get(150, float("nan")), "acc_end": acc.iloc[-1], "end_step": int(log["step"].iloc[-1]),
            "best_val_ua": 100 * best["val_ua"], "best_step": int(best["step"]),
            "val_pair_acc": f"{pair.min():.3f}-{pair.max():.3f}" if pair.notna().any() else "",
            "wall_s": round(wall_s, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--split", default="paper", help="the report's split: paper (the manifest's split "
                        "column) or fold:K/N (a recipe manifest's folds)")
    parser.add_argument("--egemaps", action="store_true", help="also eGeMAPS + SVM's validation UA without and "
                        "with speaker normalisation")
    parser.add_argument("--seed", type=int, default=0, help="the training seed (params' seed; 0 as the report)")
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="variants to run (default: all)")
    args = parser.parse_args(argv)
    if not args.manifest.exists():
        print(f"{args.manifest} is absent: nothing to measure (a development corpus beside the repository)")
        return 0
    torch.set_num_threads(1)  # as a study's cells train: the trajectory depends on the thread count
    fold = "" if args.split == "paper" else "-" + args.split.replace(":", "").replace("/", "of")
    run = f"bench-pdt-variants-{report_params.corpus_label(args.manifest)}{fold}" + (f"-seed{args.seed}" if args.seed else "")
    overrides = ["corpus=manifest", f"manifest={args.manifest}", f"run={run}", f"split={args.split}", f"seed={args.seed}"]
    # notebook 01 makes the run's corpus table (splits, labels) as the report does
    subprocess.run([sys.executable, "-m", "pdtlib.report", "--params", "params/default.yaml", "--only", "01",
                    *[a for o in overrides for a in ("--set", o)]], cwd=paths.PROJ_ROOT, check=True)
    p = SimpleNamespace(**report_params.load(paths.PARAMS / "default.yaml", overrides))
    folder = pipeline.folder(p)
    fs = pipeline.run_features(folder, p.duration)
    rows = []
    for name in args.only if args.only is not None else VARIANTS:
        method, changes, encoder, patch = VARIANTS[name]
        config = config_of(p, method, args.steps, changes, encoder)
        run_dir = folder / "variants" / name
        make = PDTTrainer if method == "pdt" else ClassifierTrainer
        trainer = make(speaker_normalized(fs) if patch == "speaker" else fs, config, run_dir, pick_device(None))
        if callable(patch):
            patch(trainer)
        start = time.perf_counter()
        result = trainer.fit(resume=False)  # afresh: a patch is not in the checkpoint's config
        rows.append(summary(name, result.log, time.perf_counter() - start))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="%.2f"), flush=True)
    if args.egemaps:
        rows += egemaps_rows(fs.table)
        print(pd.DataFrame(rows[-2:]).to_string(index=False, float_format="%.2f"), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(folder / "variants.csv", index=False)
    print(f"\n{args.manifest} ({len(fs.indices('train'))} training utterances), {args.steps} steps, no early "
          f"stopping; {torch.get_num_threads()} thread")
    print(table.to_string(index=False, float_format="%.2f"))
    print(f"written: {paths.shown(folder / 'variants.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
