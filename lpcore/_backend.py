"""Loading the compiled core and naming its backends."""

from __future__ import annotations

from pathlib import Path

try:
    from . import _core
except ModuleNotFoundError as exc:  # pragma: no cover - depends on how lpcore was imported
    if exc.name != f"{__package__}._core":
        raise
    raise ImportError(
        f"lpcore's compiled core is missing: Python imported the source tree at "
        f"{Path(__file__).parent}, which is not built. Install the package "
        f"(python -m pip install .) and run from outside the source tree, or run "
        f"the tests with plain `pytest`."
    ) from exc

_BACKENDS = ("scalar", "avx2")


def backend() -> str:
    """Name of the kernel backend chosen at import: ``"avx2"`` or ``"scalar"``.

    The choice is made once, when lpcore is imported: ``"avx2"`` on a CPU with
    AVX2 and FMA, else ``"scalar"``. Set the environment variable
    ``LPCORE_FORCE_ISA=scalar`` (or ``avx2``) before importing to force one.

    Examples
    --------
    >>> import lpcore
    >>> lpcore.backend() in lpcore.supported_backends()
    True
    """
    return _core.backend()


def supported_backends() -> list[str]:
    """Backends this CPU can run, always starting with ``"scalar"``.

    Examples
    --------
    >>> import lpcore
    >>> lpcore.supported_backends()[0]
    'scalar'
    """
    return list(_core.supported_backends())


def check_backend(name: str | None) -> str | None:
    """Validate an explicit backend request (None means the active backend)."""
    if name is None:
        return None
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS} or None, got {name!r}")
    if name not in _core.supported_backends():
        raise ValueError(f"backend {name!r} is not supported by this CPU; use one of {supported_backends()}")
    return name
