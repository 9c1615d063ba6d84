"""Training the method's networks: the PDT (paper §2.1) and the traditional classifier (§4.1).

    configs      PDTConfig and ClassifierConfig, checked; the budget's rules (steps, pairs)
    train        train_pdt and train_classifier: the two trainers' own hooks
    trainer      the loop both share: evaluations, early stopping, the cap in encoder passes
    checkpoints  resumable, atomic checkpoints and the deterministic mode
    batchnorm    batch norm's statistics recomputed at the weights evaluated
    inference    a trained network run over spectrograms: vectors (embed) and classes (predict)
"""
