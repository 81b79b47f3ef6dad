"""``python -m constitution``."""

from constitution.cli import main

raise SystemExit(main())
