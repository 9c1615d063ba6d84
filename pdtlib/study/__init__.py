"""A study: a grid of ordinary report runs (grid points x training seeds x folds), fanned out on
Ray, then one table with intervals and paired tests; `python -m pdtlib.study` (command) runs one.

    spec      the study file, checked, and its cells' parameters (imports no sibling)
    cells     what the cells hold, read back: complete or not, their Table 3 rows
    running   the cells run, on Ray or one after another, then the summary notebook
    stats     intervals and paired differences: per Table 3 row, across studies, between two runs
    fold_stats  the fold as the unit: t over folds, corrected resampled t, hierarchical bootstrap, power
    verdict   baycomp's correlated t-test with a ROPE; the random-effects pooling over studies
    pooled    the answer (PDT + SVM minus traditional) per study and pooled, and the folds power needs
    format    how the tables write an interval or a missing value
    table2    Table 2 (m x λ, the pairing scheme) from a grid study's cells
    figures   the study's figures: Table 3 over the cells, the forest plot, Table 2's heatmap
    outputs   what a study writes: its cells, Table 3 over them, comparisons, Table 2
    command   the command line (`python -m pdtlib.study`, `... compare`, `... table2`, `... summarise`)

The names below are the package's interface: what notebooks 09 and 10, the docs and the tests call.
"""

from .cells import collect, is_complete
from .command import main
from .outputs import compare, compare_between, write_cells, write_compare, write_study, write_table2
from .running import run_study, summarise_notebook
from .spec import Study, load_study, with_overrides
from .stats import ANSWER, FEW_NOTE, PAPER_CLAIM, REFERENCE_EXP, in_words, paired, summarise, summary_table

__all__ = ["ANSWER", "FEW_NOTE", "PAPER_CLAIM", "REFERENCE_EXP", "Study", "collect", "compare", "compare_between",
           "in_words", "is_complete", "load_study", "main", "paired", "run_study", "summarise", "summarise_notebook",
           "summary_table", "with_overrides", "write_cells", "write_compare", "write_study", "write_table2"]
