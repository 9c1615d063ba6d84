"""How a study's tables write their numbers: an interval as a reader sees it, and a blank where
there is no value. The one place these formats live (stats, table2 and outputs use them)."""

from __future__ import annotations

import pandas as pd


def mean_sd_interval(mean, sd, low, high) -> str:
    """"mean ± sd [low, high]" in %; one fold (no sd): the mean, saying there is no interval."""
    if sd != sd:  # one fold: no spread to show, and no interval ("± nan [nan, nan]" reads like a bug)
        return f"{mean:.2f} (one fold: no interval)"
    return f"{mean:.2f} ± {sd:.2f} [{low:.2f}, {high:.2f}]"


def mean_sd_interval_or_blank(mean, sd, low, high) -> str:
    """`mean_sd_interval`, or '' where no cell had the score (mean NaN)."""
    return "" if mean != mean else mean_sd_interval(mean, sd, low, high)


def difference_interval(diff, low, high) -> str:
    """"+diff [+low, +high]" in points; no interval (one fold): the difference, saying so."""
    return f"{diff:+.2f} (one fold: no interval)" if low != low else f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]"


def or_blank(value, fmt: str) -> str:
    """`value` in `fmt`, or '' for a missing value."""
    return "" if pd.isna(value) else format(value, fmt)


def interval(low, high) -> str:
    """"[+low, +high]" in points; '' where there is no interval (NaN)."""
    return "" if low != low else f"[{low:+.2f}, {high:+.2f}]"


def probabilities(*values) -> str:
    """Probabilities as "0.30 / 0.14 / 0.57"; '' where they are not known (NaN)."""
    return "" if any(v != v for v in values) else " / ".join(f"{v:.2f}" for v in values)
