"""The deploy_hooks blueprint: five CodeDeploy hook functions, per-hook IAM, the CodeDeploy application and
the AppSpec - synthesized from examples/deploy-hooks.yaml (and one variant), asserted on the JSON."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import yaml

from lambdaform.appspec import (
    LIFECYCLE_EVENTS,
    OUTPUT_EVENTS,
    appspec_from_outputs,
    render_appspec,
)
from lambdaform.commands import write_appspec
from lambdaform.errors import InputError
from lambdaform.loader import ServiceFileError, load_service
from lambdaform.kinds.deploy_hooks import HOOK_NAME_SUFFIXES
from support import EXAMPLES, resources, stack_json, synth_file, write_service

EXAMPLE = EXAMPLES / "deploy-hooks.yaml"
DEV, PROD = "fastapi-bootstrap-dev", "fastapi-bootstrap-prod"
HOOKS = {  # function name suffix -> (lifecycle event, handler, seed output, seed output description)
    "validate-before-install": ("BeforeInstall", "codedeploy_hooks.validate_before_install.handler",
                                "validate_before_install_arn", "ARN of the BeforeInstall Lambda function"),
    "validate-deployment": ("AfterInstall", "codedeploy_hooks.validate_deployment.handler",
                            "validate_deployment_arn", "ARN of the AfterInstall Lambda function"),
    "validate-test-traffic": ("AfterAllowTestTraffic", "codedeploy_hooks.validate_test_traffic.handler",
                              "validate_test_traffic_arn", "ARN of the AfterAllowTestTraffic Lambda function"),
    "run-migrations": ("BeforeAllowTraffic", "codedeploy_hooks.run_migrations.handler",
                       "run_migrations_arn", "ARN of the BeforeAllowTraffic Lambda function"),
    "validate-production": ("AfterAllowTraffic", "codedeploy_hooks.validate_production.handler",
                            "validate_production_arn", "ARN of the AfterAllowTraffic Lambda function"),
}
OWN_ACTIONS = {  # beyond the status report: exactly what each handler calls
    "validate-before-install": {"ecs:DescribeClusters", "ecs:DescribeServices"},
    "validate-deployment": {"ecs:DescribeServices", "ecs:DescribeTaskSets"},
    "validate-test-traffic": set(),
    "run-migrations": set(),
    "validate-production": {"cloudwatch:DescribeAlarms"},
}
BASE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
STATUS = "codedeploy:PutLifecycleEventHookExecutionStatus"
ACCOUNT = "${data.aws_caller_identity.deploy_hooks_account.account_id}"
PARTITION = "${data.aws_partition.deploy_hooks_partition.partition}"


def arn(service: str, resource: str, region: str = "us-east-1") -> str:
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{resource}"


# --- reading the synthesized stack ------------------------------------------------------------------


def address_of(reference: str) -> str:
    """``${aws_iam_role.x.arn}`` -> ``aws_iam_role.x``."""
    match = re.fullmatch(r"\$\{([a-z0-9_]+\.[A-Za-z0-9_]+)\.[a-z_]+\}", reference)
    assert match, reference
    return match.group(1)


class Stack:
    def __init__(self, document: dict):
        self.doc = document

    def functions(self) -> dict[str, dict]:
        """Function name -> body."""
        return {fn["function_name"]: fn for fn in resources(self.doc, "aws_lambda_function").values()}

    def function_address(self, name: str) -> str:
        [key] = [k for k, fn in resources(self.doc, "aws_lambda_function").items() if fn["function_name"] == name]
        return f"aws_lambda_function.{key}"

    def statements(self, name: str) -> list[dict]:
        """Every statement of the inline policies on the role of function ``name``."""
        role = address_of(self.functions()[name]["role"])
        found = []
        for body in resources(self.doc, "aws_iam_role_policy").values():
            if address_of(body["role"]) == role:
                found += json.loads(body["policy"])["Statement"]
        assert found, f"no policy on {role}"
        return found

    def allowed(self, name: str) -> dict[str, set[str]]:
        """Action -> resources allowed to function ``name``."""
        out: dict[str, set[str]] = {}
        for st in self.statements(name):
            assert st["Effect"] == "Allow"
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            res = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
            for action in actions:
                out.setdefault(action, set()).update(res)
        return out


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deploy-hooks") / "out"
    synth_file(EXAMPLE, out)
    return out


@pytest.fixture(scope="module")
def dev(synthesized) -> Stack:
    return Stack(stack_json(synthesized, DEV))


@pytest.fixture(scope="module")
def prod(synthesized) -> Stack:
    return Stack(stack_json(synthesized, PROD))


VARIANT = """\
project: shop
region: eu-west-1
environments:
  staging: {}
deploy_hooks:
  source: handlers/deploy_hooks
  app_name: storefront
  ecs_cluster_name: main
  ecs_service_name: web
  runtime: python3.13
  log_retention: 7
  tags: {owner: payments}
  smoke_test_urls: ["http://alb.internal:8080/health"]
  production_urls: ["https://shop.example.com/health"]
  container_name: web
  container_port: 3000
  platform_version: null
  codedeploy_app: false
  codedeploy_app_name: existing-app
"""


@pytest.fixture(scope="module")
def variant(tmp_path_factory) -> Stack:
    folder = tmp_path_factory.mktemp("variant")
    service_file = write_service(folder / "svc", VARIANT, handlers=("deploy_hooks",))
    synth_file(service_file, folder / "out")
    return Stack(stack_json(folder / "out", "shop-staging"))


# --- functions, logs, environment -------------------------------------------------------------------


def test_five_functions_with_the_seed_names_handlers_and_15_minute_timeout(dev):
    functions = dev.functions()
    assert set(functions) == {f"fastapi-bootstrap-dev-{suffix}" for suffix in HOOKS}
    for suffix, (_, handler, _, _) in HOOKS.items():
        fn = functions[f"fastapi-bootstrap-dev-{suffix}"]
        assert fn["handler"] == handler
        assert fn["timeout"] == 900
        assert fn["runtime"] == "python3.12" and fn["runtime"] != "python3.9"
        assert fn["package_type"] == "Zip" and fn["filename"] == "assets/deploy_hooks.zip"
    hashes = {fn["source_code_hash"] for fn in functions.values()}
    assert len(hashes) == 1, "all five hooks run from the one deploy_hooks package"


def test_each_hook_has_its_own_log_group_with_the_seed_retention(dev, prod):
    for stack, env, days in ((dev, "dev", 30), (prod, "prod", 90)):
        groups = {g["name"]: g for g in resources(stack.doc, "aws_cloudwatch_log_group").values()}
        assert set(groups) == {f"/aws/lambda/fastapi-bootstrap-{env}-{suffix}" for suffix in HOOKS}
        assert {g["retention_in_days"] for g in groups.values()} == {days}
    roles = {address_of(fn["role"]) for fn in dev.functions().values()}
    assert len(roles) == 5, "one execution role per hook"
    for name in dev.functions():
        group_arn = next(st["Resource"] for st in dev.statements(name) if st.get("Sid") == "WriteOwnLogs")
        [group] = [k for k, g in resources(dev.doc, "aws_cloudwatch_log_group").items()
                   if g["name"] == f"/aws/lambda/{name}"]
        assert group_arn == f"${{aws_cloudwatch_log_group.{group}.arn}}:*"


def test_environment_carries_cluster_service_and_endpoints(dev, prod):
    for fn in dev.functions().values():
        assert fn["environment"]["variables"] == {
            "APP_NAME": "fastapi-bootstrap",
            "ENVIRONMENT": "dev",
            "ECS_CLUSTER": "fastapi-bootstrap-dev-cluster",
            "ECS_SERVICE": "fastapi-bootstrap-dev-service",
            "SMOKE_TEST_URLS": "http://fastapi-bootstrap-dev-alb.example.com:8080/health,"
                               "http://fastapi-bootstrap-dev-alb.example.com:8080/docs",
            "PRODUCTION_URLS": "http://fastapi-bootstrap-dev-alb.example.com/health",
            "ALARM_NAMES": "fastapi-bootstrap-dev-5xx",
            "LATENCY_THRESHOLD_MS": "2000",
            "HTTP_TIMEOUT_SECONDS": "10",
            "MIGRATION_COMMAND": "codedeploy_hooks.migrations:noop_migration",
        }
    variables = prod.functions()["fastapi-bootstrap-prod-validate-deployment"]["environment"]["variables"]
    assert variables["ECS_CLUSTER"] == "fastapi-bootstrap-prod-cluster"
    assert variables["ECS_SERVICE"] == "fastapi-bootstrap-prod-service"
    assert variables["EXPECTED_TASK_COUNT"] == "4"
    assert variables["ALARM_NAMES"] == "fastapi-bootstrap-prod-5xx,fastapi-bootstrap-prod-latency-p99"
    assert "EXPECTED_TASK_COUNT" not in dev.functions()["fastapi-bootstrap-dev-validate-deployment"][
        "environment"]["variables"], "unset: the hook uses the service's desiredCount"


# --- IAM, per hook --------------------------------------------------------------------------------------


def test_each_hook_role_allows_only_the_calls_its_handler_makes(dev):
    for suffix, own in OWN_ACTIONS.items():
        allowed = dev.allowed(f"fastapi-bootstrap-dev-{suffix}")
        assert set(allowed) == BASE_ACTIONS | {STATUS} | own, suffix
        wildcard = {action for action, res in allowed.items() if "*" in res}
        assert wildcard <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, (suffix, wildcard)


def test_ecs_reads_are_scoped_to_the_named_cluster_service_and_its_task_sets(dev, prod):
    cluster = arn("ecs", "cluster/fastapi-bootstrap-dev-cluster")
    service = arn("ecs", "service/fastapi-bootstrap-dev-cluster/fastapi-bootstrap-dev-service")
    task_sets = arn("ecs", "task-set/fastapi-bootstrap-dev-cluster/fastapi-bootstrap-dev-service/*")
    before = dev.allowed("fastapi-bootstrap-dev-validate-before-install")
    assert before["ecs:DescribeClusters"] == {cluster}
    assert before["ecs:DescribeServices"] == {service}
    after = dev.allowed("fastapi-bootstrap-dev-validate-deployment")
    assert after["ecs:DescribeServices"] == {service}
    assert after["ecs:DescribeTaskSets"] == {service, task_sets}
    prod_before = prod.allowed("fastapi-bootstrap-prod-validate-before-install")
    assert prod_before["ecs:DescribeClusters"] == {arn("ecs", "cluster/fastapi-bootstrap-prod-cluster")}


def test_describe_alarms_only_on_the_production_hook_and_only_the_configured_alarms(dev, prod, variant):
    holders = [name for name in dev.functions() if "cloudwatch:DescribeAlarms" in dev.allowed(name)]
    assert holders == ["fastapi-bootstrap-dev-validate-production"]
    assert dev.allowed(holders[0])["cloudwatch:DescribeAlarms"] == {arn("cloudwatch", "alarm:fastapi-bootstrap-dev-5xx")}
    assert prod.allowed("fastapi-bootstrap-prod-validate-production")["cloudwatch:DescribeAlarms"] == {
        arn("cloudwatch", "alarm:fastapi-bootstrap-prod-5xx"),
        arn("cloudwatch", "alarm:fastapi-bootstrap-prod-latency-p99"),
    }
    assert "cloudwatch:DescribeAlarms" not in variant.allowed("storefront-staging-validate-production"), \
        "no alarms configured, no alarm access"


def test_status_report_is_scoped_to_the_deployment_groups_of_the_created_application(dev):
    [(key, app)] = resources(dev.doc, "aws_codedeploy_app").items()
    assert app["name"] == "fastapi-bootstrap-dev"
    assert app["compute_platform"] == "ECS"
    expected = {arn("codedeploy", f"deploymentgroup:${{aws_codedeploy_app.{key}.name}}/*")}
    for name in dev.functions():
        assert dev.allowed(name)[STATUS] == expected, name
    assert dev.doc["output"]["codedeploy_app_name"]["value"] == f"${{aws_codedeploy_app.{key}.name}}"


def test_existing_application_variant_names_tags_and_no_codedeploy_app(variant):
    assert "aws_codedeploy_app" not in variant.doc["resource"]
    functions = variant.functions()
    assert set(functions) == {f"storefront-staging-{suffix}" for suffix in HOOKS}
    for name, fn in functions.items():
        assert variant.allowed(name)[STATUS] == {
            arn("codedeploy", "deploymentgroup:existing-app/*", region="eu-west-1")}
        assert fn["runtime"] == "python3.13"
        assert fn["tags"] == {"owner": "payments"}
    assert {g["retention_in_days"] for g in resources(variant.doc, "aws_cloudwatch_log_group").values()} == {7}
    assert {g["tags"]["owner"] for g in resources(variant.doc, "aws_cloudwatch_log_group").values()} == {"payments"}
    assert {r["tags"]["owner"] for r in resources(variant.doc, "aws_iam_role").values()} == {"payments"}
    assert variant.allowed("storefront-staging-validate-before-install")["ecs:DescribeClusters"] == {
        arn("ecs", "cluster/main", region="eu-west-1")}


# --- outputs and the AppSpec ------------------------------------------------------------------------------


def test_outputs_use_the_seed_names_and_descriptions(dev):
    outputs = dev.doc["output"]
    for suffix, (_, _, output, description) in HOOKS.items():
        address = dev.function_address(f"fastapi-bootstrap-dev-{suffix}")
        assert outputs[output] == {"value": f"${{{address}.arn}}", "description": description}
    assert outputs["appspec"]["description"]


def test_appspec_output_lists_the_five_function_arns_in_lifecycle_order(dev, variant):
    spec = yaml.safe_load(dev.doc["output"]["appspec"]["value"])
    assert spec["version"] == 0.0
    [target] = spec["Resources"]
    assert target["TargetService"] == {
        "Type": "AWS::ECS::Service",
        "Properties": {"TaskDefinition": "<TASK_DEFINITION>",
                       "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8000},
                       "PlatformVersion": "LATEST"},
    }
    expected = [{event: "${" + dev.function_address(f"fastapi-bootstrap-dev-{suffix}") + ".arn}"}
                for suffix, (event, *_) in HOOKS.items()]
    assert spec["Hooks"] == expected
    assert [next(iter(h)) for h in spec["Hooks"]] == list(LIFECYCLE_EVENTS)
    variant_spec = yaml.safe_load(variant.doc["output"]["appspec"]["value"])
    assert variant_spec["Resources"][0]["TargetService"]["Properties"] == {
        "TaskDefinition": "<TASK_DEFINITION>", "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 3000}}


def test_render_appspec_orders_hooks_by_lifecycle_and_loads_as_yaml():
    arns = {event: f"arn:aws:lambda:us-east-1:123456789012:function:hook-{i}" for i, event in enumerate(LIFECYCLE_EVENTS)}
    shuffled = dict(random.Random(7).sample(sorted(arns.items()), len(arns)))
    text = render_appspec(shuffled, "api", 8080, platform_version="1.4.0")
    assert "<TASK_DEFINITION>" in text, "the placeholder stays literal for CodePipeline to replace"
    assert yaml.safe_load(text) == {
        "version": 0.0,
        "Resources": [{"TargetService": {
            "Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": "<TASK_DEFINITION>",
                           "LoadBalancerInfo": {"ContainerName": "api", "ContainerPort": 8080},
                           "PlatformVersion": "1.4.0"}}}],
        "Hooks": [{event: arns[event]} for event in LIFECYCLE_EVENTS],
    }
    fixed = yaml.safe_load(render_appspec({"AfterAllowTraffic": "arn:x"}, "app", 8000, task_definition="arn:td:1",
                                          platform_version=None))
    assert fixed["Resources"][0]["TargetService"]["Properties"] == {
        "TaskDefinition": "arn:td:1", "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8000}}
    with pytest.raises(ValueError, match="unknown lifecycle event"):
        render_appspec({"AfterBlockTraffic": "arn:x"}, "app", 8000)
    with pytest.raises(ValueError, match="container_port"):
        render_appspec(arns, "app", 70000)


def test_appspec_from_outputs_maps_the_seed_output_names():
    raw = {name: {"value": f"arn:{name}", "type": "string", "sensitive": False} for name in OUTPUT_EVENTS}
    raw["appspec"] = {"value": "ignored", "type": "string"}
    assert appspec_from_outputs(raw) == {
        "BeforeInstall": "arn:validate_before_install_arn",
        "AfterInstall": "arn:validate_deployment_arn",
        "AfterAllowTestTraffic": "arn:validate_test_traffic_arn",
        "BeforeAllowTraffic": "arn:run_migrations_arn",
        "AfterAllowTraffic": "arn:validate_production_arn",
    }
    assert list(appspec_from_outputs({k: v["value"] for k, v in raw.items()})) == list(LIFECYCLE_EVENTS)
    with pytest.raises(ValueError, match="run_migrations_arn"):
        appspec_from_outputs({k: v for k, v in raw.items() if k != "run_migrations_arn"})


class FakeDeployment:
    """What write_appspec uses of lambdaform.deploy.Deployment, with outputs as terraform prints them."""

    def __init__(self, service_file: Path, outputs: dict):
        self.loaded = load_service(service_file)
        self.service = self.loaded.environments["dev"]
        self.options = type("Options", (), {"env": "dev"})()
        self.stacks: list[str] = []
        self._outputs = outputs
        self.calls: list[str] = []

    def synthesize(self) -> None:
        self.calls.append("synthesize")
        self.stacks = [f"{self.service.project}-dev"]

    def init(self, stack: str) -> None:
        self.calls.append(f"init {stack}")

    def outputs(self, stack: str) -> dict:
        self.calls.append(f"outputs {stack}")
        return self._outputs


def test_write_appspec_writes_the_deployed_arns(tmp_path):
    outputs = {name: {"value": f"arn:aws:lambda:us-east-1:1:function:{name}"} for name in OUTPUT_EVENTS}
    deployment = FakeDeployment(EXAMPLE, outputs)
    path = write_appspec(deployment, tmp_path / "deploy" / "appspec.yml")
    assert path == (tmp_path / "deploy" / "appspec.yml").resolve()
    assert deployment.calls == ["synthesize", "init fastapi-bootstrap-dev", "outputs fastapi-bootstrap-dev"]
    spec = yaml.safe_load(path.read_text())
    assert spec["Hooks"] == [{OUTPUT_EVENTS[n]: f"arn:aws:lambda:us-east-1:1:function:{n}"} for n in OUTPUT_EVENTS]
    assert spec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": "app", "ContainerPort": 8000}
    with pytest.raises(InputError, match="run deploy first"):
        write_appspec(FakeDeployment(EXAMPLE, {}), tmp_path / "never.yml")
    assert not (tmp_path / "never.yml").exists()


def test_write_appspec_refuses_a_service_without_deploy_hooks(tmp_path):
    service_file = write_service(tmp_path / "svc", """\
project: plain
functions:
  hello: {source: handlers/vela_runtime, runtime: provided.al2023, handler: app.velac}
""")
    with pytest.raises(InputError, match="no deploy_hooks section"):
        write_appspec(FakeDeployment(service_file, {}), tmp_path / "appspec.yml")


def test_naming_and_output_tables_agree_with_the_construct():
    from lambdaform.constructs.deploy_hooks import HOOKS as CONSTRUCT_HOOKS

    assert HOOK_NAME_SUFFIXES == tuple(h.name_suffix for h in CONSTRUCT_HOOKS) == tuple(HOOKS)
    assert OUTPUT_EVENTS == {h.output_name: h.lifecycle_event for h in CONSTRUCT_HOOKS}


# --- loader errors ------------------------------------------------------------------------------------------

MINIMAL = """\
project: shop
deploy_hooks:
  source: {source}
  ecs_cluster_name: main
{service_line}  smoke_test_urls: ["http://alb:8080/health"]
  alarm_names: [shop-5xx]
"""


def problems_of(tmp_path: Path, text: str, handlers=("deploy_hooks",)) -> list[str]:
    service_file = write_service(tmp_path / "svc", text, handlers=handlers)
    with pytest.raises(ServiceFileError) as info:
        load_service(service_file)
    return [str(p) for p in info.value.problems]


def test_minimal_section_loads(tmp_path):
    text = MINIMAL.format(source="handlers/deploy_hooks", service_line="  ecs_service_name: web\n")
    loaded = load_service(write_service(tmp_path / "svc", text, handlers=("deploy_hooks",)))
    section = loaded.environments["dev"].deploy_hooks
    assert (section.log_retention, section.runtime, section.codedeploy_app) == (30, "python3.12", True)
    assert (section.container_name, section.container_port, section.platform_version) == ("app", 8000, "LATEST")


def test_missing_ecs_service_name_is_a_loader_error(tmp_path):
    text = MINIMAL.format(source="handlers/deploy_hooks", service_line="")
    assert "deploy_hooks.ecs_service_name: Field required" in problems_of(tmp_path, text)


def test_missing_source_folder_is_a_loader_error(tmp_path):
    text = MINIMAL.format(source="handlers/nowhere", service_line="  ecs_service_name: web\n")
    problems = problems_of(tmp_path, text)
    assert any(p.startswith("deploy_hooks.source: folder 'handlers/nowhere' does not exist") for p in problems), problems


def test_source_without_the_hook_package_is_a_loader_error(tmp_path):
    text = MINIMAL.format(source="handlers/vela_runtime", service_line="  ecs_service_name: web\n")
    problems = problems_of(tmp_path, text, handlers=("vela_runtime",))
    assert problems == ["deploy_hooks.source: 'handlers/vela_runtime' holds no codedeploy_hooks/ package "
                        "(the hook handlers)"]


def test_production_hook_needs_alarms_or_urls_and_names_must_fit(tmp_path):
    text = MINIMAL.format(source="handlers/deploy_hooks", service_line="  ecs_service_name: web\n")
    problems = problems_of(tmp_path / "a", text.replace("  alarm_names: [shop-5xx]\n", ""))
    assert any(p.startswith("deploy_hooks: give alarm_names and/or production_urls") for p in problems), problems
    long_name = text.replace("project: shop", "project: a-long-project-name-for-hooks\nenvironments: {prod-eu1: {}}")
    problems = problems_of(tmp_path / "b", long_name)
    assert "deploy_hooks.app_name: role name 'a-long-project-name-for-hooks-prod-eu1-validate-before-install-role' " \
           "is longer than IAM's 64 characters" in problems
    assert all("role name" in p for p in problems), "the function names themselves still fit"
    longer = long_name.replace("prod-eu1", "production-eu")
    assert "deploy_hooks.app_name: function name 'a-long-project-name-for-hooks-production-eu-validate-before-" \
           "install' is longer than Lambda's 64 characters" in problems_of(tmp_path / "c", longer)
    wildcard = text.replace("[shop-5xx]", "['shop-*']")
    assert any(p.startswith("deploy_hooks.alarm_names.0:") for p in problems_of(tmp_path / "d", wildcard))
