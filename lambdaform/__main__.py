"""``python -m lambdaform``: the same CLI as the ``lambdaform`` command."""

import sys

from lambdaform.cli import app

sys.exit(app())
