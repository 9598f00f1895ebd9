"""``python -m neurofb_ui``: open the desktop app."""

import sys

from neurofb_ui.app import main

sys.exit(main())
