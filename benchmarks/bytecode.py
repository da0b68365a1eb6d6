"""galley's bytecode, written before a benchmark times galley.

`pip install` writes it for an installed package. The editable install here, under
PYTHONDONTWRITEBYTECODE=1 (as on this machine), would otherwise compile galley from source in
every process a benchmark times (0.06 s each), a cost no installed galley has.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_galley(package: Path | None = None) -> None:
    """The bytecode of `package` (a galley package directory; default: the one imported)."""
    if package is None:
        import galley

        package = Path(galley.__file__).parent
    compileall.compile_dir(package, quiet=1)
