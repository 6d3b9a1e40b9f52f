"""``python -m tinygrad_rnn COMMAND``: see :mod:`tinygrad_rnn.cli`."""
import sys

from .cli import main

sys.exit(main())
