"""pdtlib: a replication of "A Pairwise Discriminative Task for Speech Emotion Recognition".

Lian, Z., Li, Y., Tao, J., Huang, J. A Pairwise Discriminative Task for Speech Emotion
Recognition. arXiv preprint (2018).
"""

__version__ = "0.1.0"

# The four classes, in the order of the paper's Fig. 3 legend (0 happy, 1 angry, 2 neutral, 3 sad).
# Every integer label in the project is an index into this tuple.
EMOTIONS = ("happy", "angry", "neutral", "sad")


def label_index(labels):
    """Labels -> integer indices into EMOTIONS (0 happy, 1 angry, 2 neutral, 3 sad): a pandas Series."""
    import pandas as pd  # here: `import pdtlib` itself stays free of pandas

    return pd.Series(labels).map({e: i for i, e in enumerate(EMOTIONS)}).astype("int64")
