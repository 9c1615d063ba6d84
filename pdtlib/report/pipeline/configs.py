"""Parameters -> configs: one function builds every config of a run (`build`), and
`check_parameters` is "build them and collect the errors", before any notebook runs.

One rule names every setting: a parameter is `<prefix><field>` of the config it sets
(PREFIXES: `pdt_lr` is PDTConfig.lr, `baseline_batch_size` ClassifierConfig.batch_size,
`encoder_channels` EncoderConfig.channels), and the run-wide parameters without a prefix
(SHARED: `seed`, `recalibrate_bn`, `precision`, `duration`, `pad`, `max_passes`, `eval_every`,
`patience`, `min_epochs`) set the field of that name in every config that has one. A list where the field
takes one value (`pdt_lr: [1e-3, 1e-4]`) is a grid: one config per value, the best chosen on
validation. What a value may be is checked once, by the
dataclass (its __post_init__), and reported here with the parameter's name.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from ...system import paths
from ...corpora import LOADERS, SyntheticConfig, load_corpus
from ...corpora.cross_corpus import check_balance, cross_corpus
from ...corpora.iemocap import check_root, session_splits
from ...corpora.manifest import manifest_split
from ...corpora.synthetic import default_root
from ...corpora.table import CorpusError
from ...evaluation.evaluate import SVMConfig, TSNEConfig
from ...features import FeatureConfig
from ...models import EncoderConfig
from ...system.runs import check_run_name
from ...training.configs import ClassifierConfig, PDTConfig

# The configs a run builds, by the prefix of their parameters.
PREFIXES = {"synthetic_": SyntheticConfig, "encoder_": EncoderConfig, "pdt_": PDTConfig,
            "baseline_": ClassifierConfig, "svm_": SVMConfig, "tsne_": TSNEConfig}
# Run-wide: every config with such a field, unless its prefixed parameter is given (synthetic_seed
# draws the generated corpus, `seed` trains).
SHARED = ("seed", "recalibrate_bn", "precision", "duration", "pad", "max_passes", "eval_every", "patience",
          "min_epochs")
GRIDS = ("pdt_lr", "baseline_lr")  # lists of values tried, one config each


def _prefix(cls) -> str:
    return next(prefix for prefix, known in PREFIXES.items() if known is cls)


def _nested(f: dataclasses.Field) -> bool:
    """A field holding another config (PDTConfig.encoder): set through that config's own prefix."""
    return f.default_factory in PREFIXES.values()


def parameter_names(cls, p) -> list[str]:
    """The parameters of `p` that set `cls`'s fields by the rule: its prefixed names, then the shared ones."""
    fields = [f.name for f in dataclasses.fields(cls) if not _nested(f)]
    return ([_prefix(cls) + name for name in fields if _prefix(cls) + name in vars(p)]
            + [name for name in fields if name in SHARED and name in vars(p)])


def _whole(cls, key: str, name: str, value):
    """A count (an int field) given as 4.0 is 4; 4.5 is an error naming the parameter `key`."""
    if typing.get_type_hints(cls).get(name) is int and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{key}: {value} must be a whole number")
        return int(value)
    return value


def config(cls, p, **fixed):
    """`cls` built from the parameters named by the rule (prefix + field, or a SHARED name), with
    `fixed` fields given by the caller (a grid's value, the splits of a run); a nested config is
    built the same way from its own prefix."""
    prefix, values = _prefix(cls), vars(p)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            kwargs[f.name] = fixed[f.name]
        elif _nested(f):
            kwargs[f.name] = config(f.default_factory, p)
        elif prefix + f.name in values and prefix + f.name not in GRIDS:
            kwargs[f.name] = _whole(cls, prefix + f.name, f.name, values[prefix + f.name])
        elif f.name in SHARED and f.name in values:
            kwargs[f.name] = _whole(cls, f.name, f.name, values[f.name])
    return cls(**kwargs)


def grid(p, key: str) -> list[float]:
    """The values of a grid parameter (`pdt_lr`, `baseline_lr`); at least one."""
    values = list(getattr(p, key))
    if not values:
        raise ValueError(f"{key} is empty: give at least one value")
    return [float(v) for v in values]


def encoder_config(p) -> EncoderConfig:
    """The encoder both methods train."""
    return config(EncoderConfig, p)


def pdt_config(p, lr: float | None = None) -> PDTConfig:
    """The PDT's training config at `lr` (default the first of `pdt_lr`)."""
    return config(PDTConfig, p, lr=grid(p, "pdt_lr")[0] if lr is None else float(lr))


def classifier_config(p, lr: float | None = None, passes: int | None = None, select: bool = False) -> ClassifierConfig:
    """The traditional baseline's training config; its duration is the features' it is given.

    select=True: the selection run (train split only, val UA every `eval_every` steps, stopped by
    `patience` or the cap `max_passes`; it keeps the checkpoint validation chose, so it averages no
    weights); else §4.1's run on train + val for `passes` encoder passes."""
    selecting = {"train_splits": ("train",), "select_on": "val_ua", "weight_average": 0.0}
    return config(ClassifierConfig, p, lr=grid(p, "baseline_lr")[0] if lr is None else float(lr),
                  **({"max_passes": int(passes)} if passes else {}),
                  **(selecting if select else {"train_splits": ("train", "val"), "select_on": None}))


def feature_configs(p) -> dict[float, FeatureConfig]:
    """The spectrograms of every duration the run uses: the PDT's and the baselines'."""
    return {d: config_at(p, d) for d in sorted({float(p.duration), *map(float, p.baseline_durations)})}


def config_at(p, duration: float) -> FeatureConfig:
    return FeatureConfig(duration=float(duration), pad=p.pad)


def svm_config(p) -> SVMConfig:
    return config(SVMConfig, p)


def tsne_config(p) -> TSNEConfig:
    return config(TSNEConfig, p)


def build(p) -> dict:
    """Every config of a run, by name: what `check_parameters` builds and what the notebooks use."""
    return {"run": check_run_name(p.run), "corpus": corpus_arguments(p), "test_corpus": test_corpus_arguments(p),
            "features": feature_configs(p),
            "encoder": encoder_config(p), "pdt": [pdt_config(p, lr) for lr in grid(p, "pdt_lr")],
            "baseline": [classifier_config(p, lr, select=s) for lr in grid(p, "baseline_lr") for s in (True, False)],
            "svm": svm_config(p), "tsne": tsne_config(p)}


def check_parameters(p) -> None:
    """Build every config of the run (`build`) and raise one ValueError naming each parameter group
    that fails, before anything is computed."""
    # The training configs are built around a sound encoder: the encoder's own check reports its keys.
    sound = SimpleNamespace(**{**vars(p), **{k: getattr(EncoderConfig(), k.removeprefix("encoder_"))
                                             for k in parameter_names(EncoderConfig, p)}})
    names = {cls: ", ".join(parameter_names(cls, p)) for cls in PREFIXES.values()}
    # An empty grid is reported by itself; the other fields are still checked at a default value.
    lrs = {key: [float(v) for v in getattr(p, key)] or [None] for key in GRIDS}
    checks = {
        "run": lambda: check_run_name(p.run),
        "corpus, iemocap_root, manifest, split, " + names[SyntheticConfig]: lambda: corpus_arguments(p),
        "test_manifest, test_balance": lambda: test_corpus_arguments(p),
        "duration, baseline_durations, pad": lambda: feature_configs(p),
        **{key: (lambda key=key: grid(p, key)) for key in GRIDS},
        names[EncoderConfig]: lambda: encoder_config(p),
        names[PDTConfig]: lambda: [config(PDTConfig, sound, **({"lr": lr} if lr else {})) for lr in lrs["pdt_lr"]],
        names[ClassifierConfig]: lambda: [
            config(ClassifierConfig, sound, **({"lr": lr} if lr else {}), train_splits=splits, select_on=select)
            for lr in lrs["baseline_lr"] for splits, select in ((("train",), "val_ua"), (("train", "val"), None))],
        names[SVMConfig]: lambda: svm_config(p),
        names[TSNEConfig]: lambda: tsne_config(p),
    }
    problems = []
    for keys, build_one in checks.items():
        try:
            build_one()
        except (ValueError, TypeError, CorpusError) as exc:
            problems.append(f"- {keys}: {exc}")
    if problems:
        raise ValueError("bad parameter values, found before any notebook ran:\n" + "\n".join(problems))


# ---------------------------------------------------------------- the corpus

def corpus_table(p) -> tuple[pd.DataFrame, dict]:
    """The utterance table of the corpus the parameters name, and what it is (kind, source, size).

    synthetic: generated (or reused) under data/synthetic/ from `synthetic_seed`, read by load_iemocap
               with `split`, like IEMOCAP.
    iemocap:   `iemocap_root` read by load_iemocap with `split` (paper or loso:K).
    manifest:  the CSV at `manifest` read by load_manifest (its split column, or `split: fold:K/N`).

    With `test_manifest` (a cross-corpus run, corpora.cross_corpus) the table is that corpus's train
    and val rows and every utterance of the test manifest as the test split (`test_balance: all`), or a
    class-balanced subset (`balanced`); `test` then says what tested (its `description` goes to Table 3's
    notes), and run.json records it with the corpus.
    """
    arguments, source = corpus_arguments(p)
    table = load_corpus(p.corpus, **arguments)
    info = {"corpus": p.corpus, "source": str(paths.shown(source)), "utterances": len(table)}
    test = test_corpus_arguments(p)
    if test is None:
        return table, info
    table, tested = cross_corpus(table, test["csv_path"], test["balance"], train_source=info["source"],
                                 test_source=str(paths.shown(test["csv_path"])))
    return table, {**info, "utterances": len(table), "test": tested}


def test_corpus_arguments(p) -> dict | None:
    """The test corpus of a cross-corpus run (`test_manifest`, `test_balance`), checked without reading
    it; None for a run tested on its own corpus's test split (test_manifest empty)."""
    manifest, balance = getattr(p, "test_manifest", ""), getattr(p, "test_balance", "all")
    check_balance(balance)
    if not manifest:
        return None
    if not Path(manifest).is_file():
        raise ValueError(f"test_manifest {manifest} is not a file: give the test corpus's manifest CSV "
                         "(make report ... TEST_MANIFEST=other_corpus.csv)")
    return {"csv_path": Path(manifest), "balance": balance}


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
    synthetic = config(SyntheticConfig, p)  # the generated corpus: synthetic_seed draws it, `seed` trains
    return {"config": synthetic, "split": p.split}, default_root(synthetic)
