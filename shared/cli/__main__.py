"""``python -m shared.cli``: the same as the ``sdb-backup-export`` command."""

import sys

from shared.cli.main import main

sys.exit(main())
