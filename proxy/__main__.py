"""``python -m proxy``: the same as the ``vipproxy`` command."""

from proxy.cli import main

raise SystemExit(main())
