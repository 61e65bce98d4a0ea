import sys
from pathlib import Path

# The source tree's lpcore/ has no compiled core: make sure `import lpcore`
# finds the installed package even under `python -m pytest` from the root.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT]

import lpcore  # noqa: E402
import pytest  # noqa: E402

BACKENDS = lpcore.supported_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
