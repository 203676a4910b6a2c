"""cdktf constructs that mirror classic Terraform modules, one concept per file.

Importing this package installs the light import of the AWS provider binding (see ``_provider``), so
every construct below can import its resources the ordinary way at a fraction of the cost.
"""

from lambdaform.constructs import _provider

IMPORT_MODE = _provider.install()
