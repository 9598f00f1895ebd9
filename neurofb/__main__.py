"""Allow ``python -m neurofb``."""

from neurofb.cli import main

raise SystemExit(main())
