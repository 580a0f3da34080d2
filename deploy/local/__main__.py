"""``python -m deploy.local``: the one-machine stack's command line (see deploy.local.cli)."""

import sys

from deploy.local.cli import main

sys.exit(main())
