"""neurofb's PyQt6 desktop front end (installed as ``neurofb_ui``): views only, no science."""
