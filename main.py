"""lambdaform's command line, run from a checkout: ``python main.py COMMAND ...``.

The CLI itself is :mod:`lambdaform.cli` (installed as the ``lambdaform`` command and ``python -m lambdaform``);
this file only runs it, so ``python main.py`` keeps working in this repository.
"""

import sys

from lambdaform.cli import app

if __name__ == "__main__":
    sys.exit(app())
