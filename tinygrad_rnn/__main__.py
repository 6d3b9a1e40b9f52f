"""``python -m tinygrad_rnn COMMAND``: see ``tinygrad_rnn.apps.cli``."""
import sys

from .apps.cli import main

sys.exit(main())
