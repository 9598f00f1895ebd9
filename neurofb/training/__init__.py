"""Datasets, training, evaluation, baselines and personalisation of the focus model."""
