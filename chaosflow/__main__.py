"""``python -m chaosflow`` runs the command line."""

import sys

from chaosflow.cli import main

sys.exit(main())
