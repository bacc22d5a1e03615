"""``python -m lib <command>``: the operator's commands (see ``lib.cli``)."""

from __future__ import annotations

import sys

from lib.cli import main

sys.exit(main(sys.argv[1:]))
