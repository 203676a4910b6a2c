"""lambdaform's handler kit: the helpers every Lambda package shares, kept once in the repository.

- :mod:`lambdaform_kit.logs`: JSON log lines on stdout (one field layout), ``LOG_LEVEL``, per-invocation
  fields such as the request id.
- :mod:`lambdaform_kit.clients`: boto3 clients and resources created once per container.
- :mod:`lambdaform_kit.defence`: the last line of defence around a ``handler(event, context)``.

lambdaform copies this folder into every zip (and image) whose Python source imports ``lambdaform_kit``;
a handler folder never carries its own copy. Standard library only, plus boto3 (imported on first use),
which every Lambda Python runtime provides.
"""
