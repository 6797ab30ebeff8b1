"""`python -m bot.cli`: the `lifeboat` command."""

import sys

from bot.cli import main

sys.exit(main())
