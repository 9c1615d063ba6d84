"""Scoring what the method makes (paper §4): metrics, the SVM, and the reference rows.

    evaluate    UA, WA, macro-F1, the SVM chosen on validation, the linear probe and the pair
                metrics training selects on, t-SNE, the paper's Table 3
    egemaps     eGeMAPSv02 functionals (openSMILE): Table 3's classic reference row
    difficulty  how hard the corpus is before any deep model: a fixed linear SVM on spectral
                statistics, against which the generated corpus is calibrated
    vectors     utterance vectors written as .npz, .csv or .parquet
"""
