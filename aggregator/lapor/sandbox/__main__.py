from __future__ import annotations

import sys

from aggregator.lapor.sandbox.cli import main

sys.exit(main())
