"""Every name lambdaform gives: physical AWS names, Terraform logical names, stack names and output names.

One module, so the stacks, the terraform runner, the workflows and the tests can never disagree about a
name. Pure functions of strings: nothing here imports the model, the constructs or cdktf.

Physical names are ``<project>-<env>-<key>`` (functions, tables, buckets, queues, topics, ECR
repositories); a trigger's rule or schedule is ``<project>-<env>-<function>-<kind>-<index>``; stacks are
``<project>-<env>`` (the service), ``<project>-<env>-registry`` (the ECR repositories of image
functions, applied first) and ``<project>-ci`` (the account's GitHub OIDC provider, shared by the
environments of one account; ``<project>-ci-<account_id>`` per account when they span several). Terraform names and outputs use ``tf_name`` of the keys
(``-`` becomes ``_``).
"""

from __future__ import annotations

import re

REGISTRY_SUFFIX = "registry"
CI_SUFFIX = "ci"


def physical(project: str, env: str, key: str) -> str:
    """The AWS name of anything declared under a key: ``<project>-<env>-<key>``."""
    return f"{project}-{env}-{key}"


def trigger(project: str, env: str, function: str, kind: str, index: int) -> str:
    """The AWS name of what one trigger creates (a rule, a schedule): ``<project>-<env>-<function>-<kind>-<index>``."""
    return f"{physical(project, env, function)}-{kind}-{index}"


def role(project: str, env: str, function: str, service: str) -> str:
    """A role a service assumes for one function: ``<project>-<env>-<function>-<service>`` (``-scheduler``)."""
    return f"{physical(project, env, function)}-{service}"


def service_stack(project: str, env: str) -> str:
    """The stack holding functions, resources and sections of one environment."""
    return f"{project}-{env}"


def registry_stack(project: str, env: str) -> str:
    """The stack holding the ECR repositories of one environment's image functions."""
    return f"{service_stack(project, env)}-{REGISTRY_SUFFIX}"


def ci_stack(project: str, account_id: str | None = None) -> str:
    """The stack holding one account's GitHub OIDC provider: ``<project>-ci``, or ``<project>-ci-<account_id>``
    when the environments span several accounts (``account_id`` given)."""
    return f"{project}-{CI_SUFFIX}" + (f"-{account_id}" if account_id else "")


def stacks(project: str, env: str, *, with_registry: bool, ci: str | None = None) -> list[str]:
    """One environment's stacks in apply order: the account's CI stack ``ci`` (given only to the environment
    that owns it), the registry (when there are image functions), the service."""
    return [*([ci] if ci else []), *([registry_stack(project, env)] if with_registry else []),
            service_stack(project, env)]


def is_registry_stack(stack: str) -> bool:
    return stack.endswith(f"-{REGISTRY_SUFFIX}")


def tf_name(*parts: str) -> str:
    """A readable Terraform name from keys and construct ids: ``api`` + ``function`` -> ``api_function``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(p for p in parts if p))


def image_tag_variable(function: str) -> str:
    """The service stack's variable holding an image function's tag (``api_image_tag``)."""
    return f"{tf_name(function)}_image_tag"


def output(key: str, what: str) -> str:
    """A stack output about ``key``: ``output("api", "function_url")`` -> ``api_function_url``."""
    return f"{tf_name(key)}_{what}"


FUNCTION_OUTPUTS = ("function_name", "function_arn", "function_version", "log_group_name", "function_url",
                    "ecr_repository_url", "ecr_repository_name", "dead_letter_queue_url", "alias_name", "alias_arn",
                    "codedeploy_app_name", "codedeploy_deployment_group_name")
"""What the stacks output about every function (``<fn>_<what>``); the deploy result reads them back."""
