import sys
from pathlib import Path

# The source tree's lpcore/ has no compiled core: make sure `import lpcore`
# finds the installed package even under `python -m pytest` from the root.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT]

import os  # noqa: E402
import subprocess  # noqa: E402

import lpcore  # noqa: E402
import pytest  # noqa: E402

BACKENDS = lpcore.supported_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def output_per_backend(code: str, cwd) -> dict:
    """Run `code` in a fresh interpreter once per backend (LPCORE_FORCE_ISA) and
    return {backend: the second word of its output}; the first word must be
    the backend's name. cwd should be away from the source tree, whose lpcore/
    has no compiled core."""
    out = {}
    for be in BACKENDS:
        env = dict(os.environ, LPCORE_FORCE_ISA=be)
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                              check=True)
        name, digest = proc.stdout.split()
        assert name == be
        out[be] = digest
    return out
