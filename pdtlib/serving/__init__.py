"""A trained model used on new audio: the model bundle and the `pdt` command.

    bundle     the on-disk format of reports/<run>/model/ and its safety checks
    inference  waveforms -> the encoder's input and vectors: segments, input warnings
    inputs     which files a call reads: files, folders, manifests
    predict    the library call: embed_files, predict_files
    cli        `pdt predict | embed | info | corpus`
"""
