"""Run code in a fresh interpreter that may import only a function's own requirements.

The venv holds every package of every function, so an import a function's
generated requirements.txt lacks would pass here and fail only in the cloud.
``REFUSE_FINDER`` is Python source for a child process: it defines
``install_refusal(allowed)``, which maps every installed distribution's modules
to their distribution (from its RECORD) and puts a meta-path finder in front
that raises ImportError for a module of any distribution not in ``allowed``.
Used by tests/unit/test_function_imports.py (import each main.py) and
tests/functions/test_built_packages.py (serve each unzipped package).
"""

from __future__ import annotations

REFUSE_FINDER = r'''
import importlib.metadata as _md
import re as _re
import sys as _sys


def _canonical(name):
    return _re.sub(r"[-_.]+", "-", name).lower()


def install_refusal(allowed):
    """Refuse importing any module owned by an installed distribution not in ``allowed``."""
    allowed = {_canonical(n) for n in allowed}
    owner = {}  # dotted module -> distribution, from every installed distribution's files
    for dist in _md.distributions():
        name = _canonical(dist.metadata["Name"])
        for f in dist.files or []:
            parts = f.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
                continue
            if f.suffix == ".py":
                mod = ".".join(parts[:-1] if f.stem == "__init__" else (*parts[:-1], f.stem))
            elif f.suffix in (".so", ".pyd"):
                mod = ".".join((*parts[:-1], f.name.split(".")[0]))
            else:
                continue
            if mod:
                owner.setdefault(mod, name)

    class Refuse:
        def find_spec(self, fullname, path=None, target=None):
            dist = owner.get(fullname)
            if dist is not None and dist not in allowed:
                raise ImportError(f"{fullname} comes from {dist}, which is not in requirements.txt")
            return None

    _sys.meta_path.insert(0, Refuse())
'''
