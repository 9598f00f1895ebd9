"""Training, evaluating and personalising the focus model (imports torch; not used live).

- :mod:`~neurofb.training.windows`: labelled windows prepared exactly as the live engine does.
- :mod:`~neurofb.training.eegmat` and :mod:`~neurofb.training.recordings`: the datasets.
- :mod:`~neurofb.training.train`: the training loop (CPU, CUDA with AMP, DDP).
- :mod:`~neurofb.training.evaluate`: cross-subject evaluation against the baselines
  (:mod:`~neurofb.training.baselines`), with :mod:`~neurofb.training.metrics`.
- :mod:`~neurofb.training.personalise`: fit a model to one person from a calibration recording.
- :mod:`~neurofb.training.retrain`: retrain from labelled recordings.
- :mod:`~neurofb.training.model_folder`: write a trained model as a model folder.
"""
