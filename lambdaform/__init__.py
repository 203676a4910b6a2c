"""lambdaform: service file -> validated model -> cdktf stacks -> synth -> artifacts and HCL."""

import os as _os

__version__ = "0.2.0"
"""The version of lambdaform; also in pyproject.toml (a test keeps them equal) and in generated files."""

# jsii prints a banner on every start under Node 20; lambdaform's output stays parseable without it.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
