"""Load only the parts of ``cdktf_cdktf_provider_aws`` that lambdaform uses.

The binding's ``__init__`` imports all 2,135 resource submodules (10-19 s here) although each submodule
only needs the shared ``_jsii`` assembly loader. Registering the package object without running its
``__init__`` lets ``from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction`` import one
submodule (plus the assembly) and nothing else. The synthesized JSON is byte-identical either way;
``tests/test_fast_import.py`` proves it and ``bench/synth.py`` measures the difference.

Set ``LAMBDAFORM_FULL_PROVIDER_IMPORT=1`` to import the package the ordinary way.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

PACKAGE = "cdktf_cdktf_provider_aws"
FULL_IMPORT_ENV = "LAMBDAFORM_FULL_PROVIDER_IMPORT"


def install() -> str:
    """Make ``cdktf_cdktf_provider_aws`` importable cheaply; returns ``"full"`` or ``"light"``."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return "light" if getattr(existing, "__lambdaform_light__", False) else "full"
    if os.environ.get(FULL_IMPORT_ENV) == "1":
        importlib.import_module(PACKAGE)
        return "full"
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not installed (pip install 'cdktf-cdktf-provider-aws==20.1.0')")
    module = importlib.util.module_from_spec(spec)  # the package object, its __init__ not executed
    module.__lambdaform_light__ = True  # type: ignore[attr-defined]
    sys.modules[PACKAGE] = module
    return "light"
