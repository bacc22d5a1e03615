"""Developer tooling that never ships: the local emulator suite and dev server, the
migration runner and scratch databases, ``check-env`` and the CLI (``python -m devtools``).

``lib/`` is what deploys; nothing under ``lib/`` or ``functions/`` imports this package
(``tests/unit/architecture/test_import_graph.py`` holds that; staging refuses such an import too).
"""
