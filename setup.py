"""Optional compiled build: the pure layers through mypyc, only when asked.

``pip install .`` stays pure Python (pyproject.toml says everything else). With
``VIPPROXY_COMPILE=1`` the SIP model, the §17 transaction machines and the
proxy core are compiled to C extensions by mypyc: the same modules, type
checked by ``mypy --strict``, run as native code, which takes a large part of
the interpreter's cost per call off the proxy (README, Speed). The build needs
mypy (it brings mypyc) and a C compiler, so install without build isolation:

    VIPPROXY_COMPILE=1 pip install --no-build-isolation .

For development, tools/compiled builds the extensions in place, next to the
.py files (which they shadow), and removes them again.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

# The packages compiled: pure code on the per-message path. Everything else
# (asyncio wiring, store, admin, config) stays interpreted.
COMPILED_PACKAGES = ("proxy/sip", "proxy/transaction", "proxy/core")


def compiled_modules() -> list[str]:
    """Every module of :data:`COMPILED_PACKAGES`, as mypyc takes them."""
    root = Path(__file__).parent
    return [str(path.relative_to(root)) for package in COMPILED_PACKAGES
            for path in sorted((root / package).glob("*.py"))]


def ext_modules() -> list[object]:
    if os.environ.get("VIPPROXY_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit("VIPPROXY_COMPILE=1 needs mypy (pip install mypy) and "
                         "pip install --no-build-isolation") from error
    return list(mypycify(compiled_modules(), opt_level="3"))


setup(ext_modules=ext_modules())
