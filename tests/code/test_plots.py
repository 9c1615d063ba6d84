import os

os.environ["MPLBACKEND"] = "Agg"  # before anything imports matplotlib

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from pdtlib.system import paths
from pdtlib.report import plots  # noqa: E402
from pdtlib.evaluation.evaluate import evaluate_predictions  # noqa: E402


def saved(fig, name):
    png, svg = plots.save_figure(fig, paths.reports_dir() / "figs" / name)
    assert png.suffix == ".png" and svg.suffix == ".svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert b"<svg" in svg.read_bytes()[:2000]
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]  # no temporary left
    return png, svg


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_save_figure_strips_suffix_and_replaces():
    fig = plots.plot_duration_histogram([1.0, 2.0, 3.0])
    png, svg = saved(fig, "hist.png")
    assert png.name == "hist.png" and svg.name == "hist.svg"
    saved(fig, "hist")  # overwriting works
    assert sorted(p.name for p in png.parent.iterdir()) == ["hist.png", "hist.svg"]


def test_training_curves_full_and_partial_logs():
    log = pd.DataFrame({"pairs_seen": [0, 1000, 2000, 3000],
                        "train_loss": [1.0, 0.8, 0.6, 0.5],
                        "val_loss": [np.nan, 0.9, np.nan, 0.7],
                        "val_pair_acc": [np.nan, 0.6, np.nan, 0.55]})
    fig = plots.plot_training_curves(log)
    assert len(fig.axes) == 2
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "selected (pairs_seen 1000)" in legend  # best val_pair_acc
    saved(fig, "curves")
    only_loss = plots.plot_training_curves(pd.DataFrame({"step": [1, 2], "train_loss": [1.0, 0.5]}))
    assert len(only_loss.axes) == 1
    saved(only_loss, "curves_loss_only")
    empty = plots.plot_training_curves(pd.DataFrame({"foo": [1]}))
    assert "no loss" in texts(empty)[0]


def test_tsne_legend_is_the_papers():
    rng = np.random.default_rng(0)
    fig = plots.plot_tsne(rng.standard_normal((40, 2)), np.arange(40) % 4)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["0 happy", "1 angry", "2 neutral", "3 sad"]
    saved(fig, "fig3_tsne")


def test_confusion_annotations_and_title():
    out = evaluate_predictions([0, 0, 0, 1, 2, 3, 3], [0, 1, 0, 1, 2, 3, 2])
    fig = plots.plot_confusion(out["confusion"])
    annotations = texts(fig)
    assert len(annotations) == 16
    assert annotations[0] == "66.7%\n(2)" and annotations[1] == "33.3%\n(1)"
    assert f"UA {100 * out['ua']:.2f}%" in fig.axes[0].get_title()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["happy", "angry", "neutral", "sad"]
    saved(fig, "fig4_confusion")


def test_duration_histogram_crop_lines():
    fig = plots.plot_duration_histogram(np.linspace(0.5, 10.5, 101))
    lines = [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()]
    assert lines == [4.0, 5.0, 6.0, 7.0]
    saved(fig, "durations")


def test_spectrogram_axes_in_hz_and_seconds():
    specs = np.random.default_rng(0).standard_normal((3, 257, 400))
    fig = plots.plot_spectrograms(specs, ["a", "b", "c"])
    image = fig.axes[0].images[0]
    assert image.get_extent() == pytest.approx([0, 4.0, 0, 8000])
    saved(fig, "spectrograms")
    single = plots.plot_spectrograms(specs[0])
    assert len(single.axes[0].images) == 1


def test_training_curves_mark_the_chosen_step_on_the_ua_panel():
    log = pd.DataFrame({"step": [0, 10, 20], "pairs_seen": [0, 320, 640], "train_loss": [np.nan, 0.8, 0.6],
                        "val_pair_acc": [0.667, 0.667, 0.668], "val_ua": [0.40, 0.61, 0.55]})
    fig = plots.plot_training_curves(log, best=10)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "pair accuracy", "validation UA (linear probe)"]
    assert "selected (pairs_seen 320)" in [t.get_text() for t in fig.axes[2].get_legend().get_texts()]


def test_selection_curves_star_each_best_epoch():
    logs = {4.0: pd.DataFrame({"epoch": [1, 2, 3], "val_ua": [0.4, 0.6, 0.5]}),
            7.0: pd.DataFrame({"epoch": [1, 2, 3], "val_ua": [0.3, 0.35, 0.45]})}
    fig = plots.plot_selection(logs)
    stars = [(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in fig.axes[0].get_lines() if ln.get_marker() == "*"]
    assert stars == [(2, pytest.approx(60.0)), (3, pytest.approx(45.0))]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2] == ["4 s", "7 s"]
    saved(fig, "selection")


def test_table3_bars():
    fig = plots.plot_table3(pd.DataFrame({"exp": [1, 2, 3, 4, 5], "ua": [50, 52, 53, 54, 55.5]}))
    ax = fig.axes[0]
    assert len(ax.patches) == 10
    assert any(ln.get_ydata()[0] == 25 for ln in ax.get_lines())
    assert "56.3" in texts(fig)
    saved(fig, "table3")
    seven = pd.DataFrame({"exp": [1, 2, 3, 4, 5, 6, 7], "ua": [50, 52, 53, 54, 55.5, 57, 60],
                          "method": ["traditional"] * 4 + ["PDT + SVM", "traditional encoder + SVM", "eGeMAPS + SVM"],
                          "duration": [4.0, 5.0, 6.0, 7.0, 4.0, 4.0, np.nan]})
    ax = plots.plot_table3(seven).axes[0]
    assert len(ax.patches) == 14 and "whole utterance" in ax.get_xticklabels()[-1].get_text()


def test_identical_results_give_identical_files():
    """A re-run report must not change committed figures whose numbers did not change (issue 11):
    no date, and SVG element ids from a fixed salt instead of a random one per save."""
    counts = np.array([[30, 5, 3, 2], [8, 25, 4, 3], [2, 3, 33, 2], [1, 2, 4, 33]])
    first = saved(plots.plot_confusion(counts), "a")
    second = saved(plots.plot_confusion(counts), "b")  # a new figure of the same numbers
    for one, other in zip(first, second):
        assert one.read_bytes() == other.read_bytes(), one.name
    again = saved(plots.plot_confusion(counts), "a")[1].read_bytes()  # the same path, saved again
    assert again == second[1].read_bytes() and b"<dc:date>" not in again
