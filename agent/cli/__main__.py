"""`python -m agent.cli ...`: the `agent` command."""

import sys

from agent.cli.main import main

sys.exit(main())
