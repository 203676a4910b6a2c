"""The rollout driver: moves a function's alias to its new version through CodeDeploy, and back.

A function with ``alias:`` and ``deployment:`` gets a published version per change and an alias whose
``function_version`` Terraform ignores after creation, so ``terraform apply`` never moves live traffic.
After the apply this module does, one function at a time:

* :func:`plan_rollouts` - compares the previous and the new stack outputs (``<fn>_function_version``) and,
  for every function whose published version changed and whose alias (read back with ``lambda:GetAlias``)
  is not on it yet, returns a :class:`Rollout`. The first deploy creates the alias on the first version, so
  there is nothing to roll out.
* :func:`appspec` - the Lambda AppSpec (JSON) of one rollout: alias, current and target version, hooks.
* :func:`run` - ``codedeploy:CreateDeployment`` with that AppSpec, then polls ``GetDeployment`` (with the
  target's traffic weight from ``GetDeploymentTarget`` when CodeDeploy reports one) until the deployment
  succeeds, fails or is stopped. CodeDeploy's automatic rollback (a failing hook, a firing alarm) is
  reported as ``rolled back`` with CodeDeploy's reason; :func:`failed` tells the caller to exit 1. Ctrl-C
  stops the waiting, not the deployment: the error says how to keep watching it.
* :func:`rollback` - ``lambdaform rollback``: points the alias at the published version before the one it
  is on now, with ``lambda:UpdateAlias`` (and drops a weighted routing config).

AWS failures raise :class:`~lambdaform.errors.ToolError` (exit 1); no earlier version to go back to is an
:class:`~lambdaform.errors.InputError` (exit 2).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdaform import names
from lambdaform.errors import InputError, ToolError

HOOK_EVENTS = ("BeforeAllowTraffic", "AfterAllowTraffic")
"""The lifecycle events of a Lambda deployment that run hook functions, in the order CodeDeploy runs them."""

_HOOK_ALIASES = {"before_allow_traffic": "BeforeAllowTraffic", "after_allow_traffic": "AfterAllowTraffic"}

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")

SUCCEEDED = "succeeded"
ROLLED_BACK = "rolled back"
FAILED = "failed"
STOPPED = "stopped"

DEFAULT_POLL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 3600.0
"""How long :func:`run` waits for one deployment; a linear or canary config of up to an hour fits."""


@dataclass(frozen=True)
class Rollout:
    """One alias to move: ``function`` is the service file's key, ``function_name`` the AWS name."""

    function: str
    function_name: str
    alias: str
    current_version: str
    target_version: str
    application: str
    group: str
    hooks: Mapping[str, str] = field(default_factory=dict)
    """Lifecycle event (``BeforeAllowTraffic``/``AfterAllowTraffic``) -> hook function name or ARN."""


@dataclass(frozen=True)
class RolloutResult:
    """How one rollout ended; ``status`` is one of ``succeeded``, ``rolled back``, ``failed``, ``stopped``."""

    function: str
    from_version: str
    to_version: str
    deployment_id: str
    status: str
    reason: str = ""
    rollback_deployment_id: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    def as_dict(self) -> dict[str, str]:
        return {"function": self.function, "from_version": self.from_version, "to_version": self.to_version,
                "deployment_id": self.deployment_id, "status": self.status, "reason": self.reason}


def failed(results: Iterable[RolloutResult]) -> bool:
    """True when any rollout did not succeed (rolled back, failed, stopped): the caller exits 1."""
    return any(not r.ok for r in results)


def _value(outputs: Mapping[str, Any], name: str) -> Any:
    """An output's value, from plain values or ``terraform output -json``'s ``{"value": ...}`` objects."""
    raw = outputs.get(name)
    if isinstance(raw, Mapping) and "value" in raw:
        return raw["value"]
    return raw


def _hook_target(value: str, outputs: Mapping[str, Any]) -> str:
    """A hook named by another function's key becomes that function's AWS name; a name or ARN stays."""
    resolved = _value(outputs, names.output(value, "function_name"))
    return str(resolved) if resolved else value


def _hooks(declared: Mapping[str, str] | None, outputs: Mapping[str, Any]) -> dict[str, str]:
    hooks: dict[str, str] = {}
    for event, target in (declared or {}).items():
        if not target:
            continue
        name = _HOOK_ALIASES.get(event, event)
        if name not in HOOK_EVENTS:
            raise InputError(f"deployment hook {event!r}: a Lambda deployment runs hooks only at "
                             f"{', '.join(HOOK_EVENTS)}")
        hooks[name] = _hook_target(str(target), outputs)
    return {event: hooks[event] for event in HOOK_EVENTS if event in hooks}


def _aws(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise ToolError(f"{what}: {exc}") from exc


def plan_rollouts(
    previous_outputs: Mapping[str, Any],
    new_outputs: Mapping[str, Any],
    functions: Mapping[str, Mapping[str, str] | None],
    *,
    lambda_client: Any,
) -> list[Rollout]:
    """The alias moves one apply calls for, in ``functions`` order.

    ``functions`` maps each function key that has a ``deployment:`` to its hooks (lifecycle event ->
    a function key of the same service, a function name or an ARN; ``before_allow_traffic`` spellings
    are accepted). Outputs are the stacks' outputs before and after the apply, plain or as
    ``terraform output -json`` prints them.
    """
    rollouts: list[Rollout] = []
    for key, declared_hooks in functions.items():
        target = _value(new_outputs, names.output(key, "function_version"))
        previous = _value(previous_outputs, names.output(key, "function_version"))
        if target is None or previous is None or str(previous) == str(target):
            continue  # first deploy (the alias starts on the first version) or nothing new published
        function_name = str(_value(new_outputs, names.output(key, "function_name")))
        alias = str(_value(new_outputs, names.output(key, "alias_name")))
        found = _aws(f"{key}: reading alias {alias} of {function_name}", lambda_client.get_alias,
                     FunctionName=function_name, Name=alias)
        current = str(found["FunctionVersion"])
        if current == str(target):
            continue
        rollouts.append(Rollout(
            function=key,
            function_name=function_name,
            alias=alias,
            current_version=current,
            target_version=str(target),
            application=str(_value(new_outputs, names.output(key, "codedeploy_app_name"))),
            group=str(_value(new_outputs, names.output(key, "codedeploy_deployment_group_name"))),
            hooks=_hooks(declared_hooks, new_outputs),
        ))
    return rollouts


def appspec(rollout: Rollout) -> str:
    """The AppSpec (JSON) that shifts ``rollout.alias`` from the current to the target version."""
    spec: dict[str, Any] = {
        "version": 0.0,
        "Resources": [{
            names.tf_name(rollout.function): {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Name": rollout.function_name,
                    "Alias": rollout.alias,
                    "CurrentVersion": rollout.current_version,
                    "TargetVersion": rollout.target_version,
                },
            },
        }],
    }
    if rollout.hooks:
        spec["Hooks"] = [{event: target} for event, target in rollout.hooks.items()]
    return json.dumps(spec, indent=2)


def watch_hint(deployment_id: str, region: str) -> str:
    """How to keep watching a deployment that lambdaform stopped waiting for."""
    return (f"watch it with `aws deploy get-deployment --deployment-id {deployment_id}` or at "
            f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}"
            f"?region={region}")


def _traffic(codedeploy: Any, deployment_id: str) -> str:
    """``", 10% on version 3"`` from the deployment's Lambda target, or ``""`` while there is none."""
    try:
        target_ids = codedeploy.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
        if not target_ids:
            return ""
        target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_ids[0])
    except (ClientError, BotoCoreError):
        return ""  # progress detail only; the status is what decides
    info = target.get("deploymentTarget", {}).get("lambdaTarget", {}).get("lambdaFunctionInfo", {})
    weight = info.get("targetVersionWeight")
    if weight is None:
        return ""
    return f", {weight:g}% of traffic on version {info.get('targetVersion', '?')}"


def _result(rollout: Rollout, deployment_id: str, info: Mapping[str, Any]) -> RolloutResult:
    status = info["status"]
    error = info.get("errorInformation") or {}
    reason = ": ".join(part for part in (error.get("code", ""), error.get("message", "")) if part)
    rollback = info.get("rollbackInfo") or {}
    if status == "Succeeded":
        outcome = SUCCEEDED
    elif rollback.get("rollbackDeploymentId") or rollback.get("rollbackMessage"):
        outcome = ROLLED_BACK
        reason = reason or rollback.get("rollbackMessage", "")
    else:
        outcome = FAILED if status == "Failed" else STOPPED
    return RolloutResult(function=rollout.function, from_version=rollout.current_version,
                         to_version=rollout.target_version, deployment_id=deployment_id, status=outcome,
                         reason=reason, rollback_deployment_id=rollback.get("rollbackDeploymentId", ""))


def run(
    rollouts: Iterable[Rollout],
    *,
    codedeploy: Any,
    progress: Callable[[str], None],
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RolloutResult]:
    """Deploy each rollout with CodeDeploy and wait for it; one result per rollout, in order.

    ``progress`` gets one line per status change (with the traffic weight while CodeDeploy shifts it).
    Ctrl-C or the timeout raise :class:`ToolError` whose message holds the deployment id and how to watch
    it; the deployment itself keeps running in AWS.
    """
    region = codedeploy.meta.region_name
    results: list[RolloutResult] = []
    for rollout in rollouts:
        content = appspec(rollout)
        created = _aws(f"{rollout.function}: starting the CodeDeploy deployment", codedeploy.create_deployment,
                       applicationName=rollout.application, deploymentGroupName=rollout.group,
                       revision={"revisionType": "AppSpecContent", "appSpecContent": {
                           "content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}})
        deployment_id = created["deploymentId"]
        progress(f"{rollout.function}: deployment {deployment_id} moves alias {rollout.alias} "
                 f"from version {rollout.current_version} to {rollout.target_version}")
        try:
            info = _wait(rollout, deployment_id, codedeploy=codedeploy, progress=progress,
                         poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, clock=clock, sleep=sleep)
        except KeyboardInterrupt:
            raise ToolError(f"{rollout.function}: stopped waiting for deployment {deployment_id}; it keeps "
                            f"running in AWS: {watch_hint(deployment_id, region)}") from None
        except TimeoutError:
            raise ToolError(f"{rollout.function}: deployment {deployment_id} did not finish within "
                            f"{timeout_seconds:g} s; it keeps running in AWS: "
                            f"{watch_hint(deployment_id, region)}") from None
        result = _result(rollout, deployment_id, info)
        progress(f"{rollout.function}: {result.status}" + (f" ({result.reason})" if result.reason else ""))
        results.append(result)
    return results


def _wait(rollout: Rollout, deployment_id: str, *, codedeploy: Any, progress: Callable[[str], None],
          poll_seconds: float, timeout_seconds: float, clock: Callable[[], float],
          sleep: Callable[[float], None]) -> Mapping[str, Any]:
    """``GetDeployment``'s deploymentInfo once the status is terminal; TimeoutError past the deadline."""
    deadline = clock() + timeout_seconds
    last = ""
    while True:
        info = _aws(f"{rollout.function}: reading deployment {deployment_id}", codedeploy.get_deployment,
                    deploymentId=deployment_id)["deploymentInfo"]
        status = info["status"]
        if status in TERMINAL_STATUSES:
            return info
        line = f"{rollout.function}: {status}" + (_traffic(codedeploy, deployment_id) if status == "InProgress"
                                                  else "")
        if line != last:
            progress(line)
            last = line
        if clock() >= deadline:
            raise TimeoutError(deployment_id)
        sleep(poll_seconds)


def _numbered_versions(lambda_client: Any, function_name: str) -> list[int]:
    versions: list[int] = []
    marker: str | None = None
    while True:
        page = _aws(f"listing the versions of {function_name}", lambda_client.list_versions_by_function,
                    FunctionName=function_name, **({"Marker": marker} if marker else {}))
        versions += [int(v["Version"]) for v in page.get("Versions", []) if v["Version"].isdigit()]
        marker = page.get("NextMarker")
        if not marker:
            return sorted(versions)


def rollback(function_name: str, alias: str, *, lambda_client: Any) -> tuple[str, str]:
    """Point ``alias`` at the published version just below the one it is on; ``(from, to)`` versions.

    A weighted routing config (a shift CodeDeploy left half way) is cleared, so all traffic goes to the
    version rolled back to.
    """
    found = _aws(f"reading alias {alias} of {function_name}", lambda_client.get_alias,
                 FunctionName=function_name, Name=alias)
    current = str(found["FunctionVersion"])
    if not current.isdigit():
        raise InputError(f"alias {alias} of {function_name} points at {current}, not a published version")
    earlier = [v for v in _numbered_versions(lambda_client, function_name) if v < int(current)]
    if not earlier:
        raise InputError(f"alias {alias} of {function_name} is on version {current}; there is no earlier "
                         "published version to roll back to")
    target = str(earlier[-1])
    update: dict[str, Any] = {"FunctionName": function_name, "Name": alias, "FunctionVersion": target}
    if (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
        update["RoutingConfig"] = {"AdditionalVersionWeights": {}}
    _aws(f"moving alias {alias} of {function_name} to version {target}", lambda_client.update_alias, **update)
    return current, target
