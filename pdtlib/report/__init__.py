"""The report's machinery: one run of the numbered notebooks, from parameters to Table 3.

    runner      `python -m pdtlib.report`: the notebooks in order under papermill, the run recorded
    params      parameter files and overrides, read and checked (params/*.yaml)
    artefacts   what each notebook writes into reports/<run>/ and which notebook writes it
    pipeline/   the notebooks' steps: configs, training with choices on validation, scoring, Table 3
    summaries   each notebook's result in words
    plots       the report's figures (Figs. 3-4, Table 3, training curves, pairs)
"""
