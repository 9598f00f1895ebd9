"""Focus estimators: the interface, the band-power fallback and the attention model."""
