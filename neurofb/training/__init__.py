"""Training, evaluating and personalising the focus model (torch for training; never used live).

- :mod:`~neurofb.training.windows`: labelled windows made exactly as the live engine makes them,
  kept as the focus model's features (:class:`~neurofb.training.windows.FeatureSet`).
- :mod:`~neurofb.training.eegmat` and :mod:`~neurofb.training.recordings`: the datasets.
- :mod:`~neurofb.training.train`: the recipe and the ensemble's training loop (CPU, CUDA with
  AMP, DDP), with :mod:`~neurofb.training.checkpoint`.
- :mod:`~neurofb.training.procedure`: the shipping procedure, both operating modes.
- :mod:`~neurofb.training.modes`: the cold, baseline and calibrated protocols.
- :mod:`~neurofb.training.evaluate`, :mod:`~neurofb.training.cv`,
  :mod:`~neurofb.training.cv_report`: held-out evaluation and repeated leave-subjects-out
  cross-validation against the baselines (:mod:`~neurofb.training.baselines`), with
  :mod:`~neurofb.training.metrics`.
- :mod:`~neurofb.training.personalise`: a personal head from a calibration recording.
- :mod:`~neurofb.training.retrain`: retrain from labelled recordings.
- :mod:`~neurofb.training.model_folder`: write trained networks as a model folder.
"""
