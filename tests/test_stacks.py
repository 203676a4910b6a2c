"""Construct tests: synthesize the default service and the custom-runtime example, assert on the JSON."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

import pytest

from support import EXAMPLES, ROOT, only, policy_of, resources, stack_json, synth_file, write_service


@pytest.fixture(scope="module")
def nl2sql(tmp_path_factory):
    out = tmp_path_factory.mktemp("nl2sql") / "out"
    synth_file(ROOT / "service.yaml", out)
    return out


@pytest.fixture(scope="module")
def vela(tmp_path_factory):
    out = tmp_path_factory.mktemp("vela") / "out"
    synth_file(EXAMPLES / "vela-runtime.yaml", out)
    return out


def test_registry_stack_holds_the_repository_with_lifecycle_rule(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev-registry")
    repo = only(doc, "aws_ecr_repository")
    assert repo["name"] == "nl2sql-agent-dev-api"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["image_tag_mutability"] == "MUTABLE"
    assert repo["encryption_configuration"] == [{"encryption_type": "KMS"}]
    rules = json.loads(only(doc, "aws_ecr_lifecycle_policy")["policy"])["rules"]
    assert len(rules) == 1
    assert rules[0]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}
    assert rules[0]["action"] == {"type": "expire"}
    assert "aws_lambda_function" not in doc.get("resource", {}), "functions live in the service stack"
    assert doc["output"]["api_ecr_repository_url"]["description"]


def test_image_function_is_deployed_by_digest_of_a_tag_variable(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    fn = only(doc, "aws_lambda_function")
    assert fn["package_type"] == "Image"
    assert fn["image_uri"] == "${data.aws_ecr_image.api_image.image_uri}"
    assert fn["image_config"] == {"command": ["nl2sql_api.lambda_handler.handler"]}
    image = doc["data"]["aws_ecr_image"]["api_image"]
    assert image["image_tag"] == "${var.api_image_tag}"
    assert doc["variable"]["api_image_tag"] == {
        "default": "latest", "description": "Image tag of function 'api' in its ECR repository", "type": "string"}
    assert fn["memory_size"] == 1024 and fn["timeout"] == 60
    assert fn["tracing_config"] == {"mode": "Active"}
    assert {k: v for k, v in fn["environment"]["variables"].items() if k in ("ENVIRONMENT", "LOG_LEVEL")} == {
        "ENVIRONMENT": "production", "LOG_LEVEL": "INFO"}


def test_log_group_exists_before_the_function_with_seed_retention(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    group = only(doc, "aws_cloudwatch_log_group")
    assert group["name"] == "/aws/lambda/nl2sql-agent-dev-api"
    assert group["retention_in_days"] == 14
    assert "aws_cloudwatch_log_group.api_log_group" in only(doc, "aws_lambda_function")["depends_on"]


def test_environment_overrides_apply_to_prod_only(nl2sql):
    dev = only(stack_json(nl2sql, "nl2sql-agent-dev"), "aws_lambda_function")
    prod_doc = stack_json(nl2sql, "nl2sql-agent-prod")
    prod = only(prod_doc, "aws_lambda_function")
    assert (dev["memory_size"], prod["memory_size"]) == (1024, 2048)
    assert "reserved_concurrent_executions" not in dev
    assert prod["reserved_concurrent_executions"] == 20
    assert only(prod_doc, "aws_cloudwatch_log_group")["retention_in_days"] == 30
    assert prod["function_name"] == "nl2sql-agent-prod-api"


def test_function_url_defaults_to_iam_auth(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    url = only(doc, "aws_lambda_function_url")
    assert url["authorization_type"] == "AWS_IAM"
    assert url["function_name"] == "${aws_lambda_function.api_function.function_name}"
    assert "aws_lambda_permission" not in doc["resource"], "an IAM-auth URL needs no public permission"
    assert doc["output"]["api_function_url"]["value"] == "${aws_lambda_function_url.api_url.function_url}"


def test_execution_role_trusts_lambda_and_writes_only_its_own_logs(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    role = resources(doc, "aws_iam_role")["api_role"]
    trust = policy_of(role, "assume_role_policy")["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    statements = policy_of(resources(doc, "aws_iam_role_policy")["api_role_policy"])["Statement"]
    logs = next(s for s in statements if s.get("Sid") == "WriteOwnLogs")
    assert logs["Resource"] == "${aws_cloudwatch_log_group.api_log_group.arn}:*"
    assert all(s["Resource"] != "*" for s in statements if s.get("Sid") != "XRayWrite")


def test_github_oidc_trust_is_pinned_to_audience_repository_and_branch(nl2sql):
    provider = only(stack_json(nl2sql, "nl2sql-agent-ci"), "aws_iam_openid_connect_provider")
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    trust = policy_of(resources(doc, "aws_iam_role")["ci_deploy_role"], "assume_role_policy")["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    # named by its ARN, not looked up: a pull request's plan works before the ci stack's first apply
    assert trust["Principal"] == {"Federated": "arn:${data.aws_partition.current.partition}:iam::"
                                                "${data.aws_caller_identity.current.account_id}:oidc-provider/"
                                                "token.actions.githubusercontent.com"}
    assert trust["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": ["repo:example-org/nl2sql-agent:ref:refs/heads/main"],
    }}
    grants = policy_of(resources(doc, "aws_iam_role_policy")["ci_deploy_policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in grants}
    assert by_sid["EcrPush"]["Resource"] == "${data.aws_ecr_repository.api_repository.arn}"
    assert by_sid["UpdateFunctions"]["Resource"] == "${aws_lambda_function.api_function.arn}"
    assert doc["output"]["ci_deploy_role_arn"]["description"]


def test_every_output_and_variable_is_described(nl2sql, vela):
    for out in (nl2sql, vela):
        for stack_dir in (out / "stacks").iterdir():
            doc = stack_json(out, stack_dir.name)
            for name, output in doc.get("output", {}).items():
                assert output.get("description"), f"{stack_dir.name}: output {name} has no description"
            for name, variable in doc.get("variable", {}).items():
                assert variable.get("description") and variable.get("type"), name


def test_custom_runtime_zip_keeps_bootstrap_executable_and_hash_is_literal(vela):
    doc = stack_json(vela, "vela-hello-dev")
    fn = only(doc, "aws_lambda_function")
    assert fn["runtime"] == "provided.al2023" and fn["handler"] == "app.velac"
    assert fn["filename"] == "assets/hello.zip"
    data = (vela / "stacks" / "vela-hello-dev" / "assets" / "hello.zip").read_bytes()
    assert fn["source_code_hash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        dates = {info.date_time for info in archive.infolist()}
    assert modes["bootstrap"] == 0o755 and modes["runtime/vela"] == 0o755
    assert modes["app.velac"] == 0o644
    assert "README.md" not in modes, "exclude: patterns from the service file apply"
    assert list(modes) == sorted(modes)
    assert dates == {(1980, 1, 1, 0, 0, 0)}


def test_public_url_is_explicit_and_arm64_in_prod(vela):
    dev = stack_json(vela, "vela-hello-dev")
    url = only(dev, "aws_lambda_function_url")
    assert url["authorization_type"] == "NONE"
    assert url["cors"]["allow_origins"] == ["*"] and url["cors"]["allow_methods"] == ["GET"]
    assert only(dev, "aws_lambda_function")["architectures"] == ["x86_64"]
    assert only(stack_json(vela, "vela-hello-prod"), "aws_lambda_function")["architectures"] == ["arm64"]


def test_local_state_lives_beside_the_service_file_not_in_the_synth_folder(tmp_path):
    service = write_service(tmp_path / "svc", """
project: local
environments: {dev: {}}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
""")
    synth_file(service, tmp_path / "out")
    backend = stack_json(tmp_path / "out", "local-dev")["terraform"]["backend"]["local"]["path"]
    resolved = (tmp_path / "out" / "stacks" / "local-dev" / backend).resolve()
    assert resolved == tmp_path / "svc" / ".lambdaform" / "state" / "local-dev.tfstate"


def test_the_repository_service_keeps_its_state_in_s3(nl2sql):
    """Its workflows need remote state: each CI job starts from an empty workspace."""
    backend = stack_json(nl2sql, "nl2sql-agent-dev")["terraform"]["backend"]["s3"]
    assert backend["bucket"] == "example-org-nl2sql-agent-tfstate"
    assert backend["key"].startswith("nl2sql-agent/") and backend["encrypt"] is True


def oidc_providers(out, stack: str) -> tuple[dict, dict]:
    """(resources, data sources) of type aws_iam_openid_connect_provider in one stack."""
    doc = stack_json(out, stack)
    return resources(doc, "aws_iam_openid_connect_provider"), doc.get("data", {}).get("aws_iam_openid_connect_provider", {})


def test_environments_of_one_account_share_one_oidc_provider_in_the_ci_stack(nl2sql):
    """service.yaml: dev and prod, no account_id (one account), github-oidc: the provider is created once."""
    created, _ = oidc_providers(nl2sql, "nl2sql-agent-ci")
    assert list(created) == ["github_oidc"]
    ci = stack_json(nl2sql, "nl2sql-agent-ci")
    assert ci["output"]["github_oidc_provider_arn"]["value"] == "${aws_iam_openid_connect_provider.github_oidc.arn}"
    dev_backend = json.dumps(stack_json(nl2sql, "nl2sql-agent-dev")["terraform"]["backend"])
    assert json.dumps(ci["terraform"]["backend"]) == dev_backend.replace("nl2sql-agent-dev.tfstate", "nl2sql-agent-ci.tfstate"), \
        "the ci stack uses the service's state backend, with a state key of its own"
    assert set(ci["resource"]) == {"aws_iam_openid_connect_provider"}, "the ci stack holds the provider only"
    for stack in ("nl2sql-agent-dev", "nl2sql-agent-prod"):
        created, looked_up = oidc_providers(nl2sql, stack)
        assert created == {}, f"{stack} must not create the account's provider"
        assert looked_up == {}, f"{stack} names the provider by ARN (a lookup would fail before it exists)"
    manifest = json.loads((nl2sql / "manifest.json").read_text())["stacks"]
    assert sorted(manifest) == ["nl2sql-agent-ci", "nl2sql-agent-dev", "nl2sql-agent-dev-registry",
                                "nl2sql-agent-prod", "nl2sql-agent-prod-registry"]


TWO_ACCOUNTS = """
project: accts
account_id: '111111111111'
environments:
  dev: {}
  staging: {}
  prod: {account_id: '222222222222'}
state: {backend: s3, bucket: my-state-bucket}
ci: {repository: acme/api}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
"""


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-accounts")
    out = folder / "out"
    return synth_file(write_service(folder / "svc", TWO_ACCOUNTS), out), out


def test_environments_in_two_accounts_get_one_ci_stack_each_owned_by_the_first_environment(two_accounts):
    result, out = two_accounts
    assert result.stacks == {"dev": ["accts-ci-111111111111", "accts-dev"], "staging": ["accts-staging"],
                             "prod": ["accts-ci-222222222222", "accts-prod"]}
    for ci, account, owner in (("accts-ci-111111111111", "111111111111", "dev"),
                               ("accts-ci-222222222222", "222222222222", "prod")):
        doc = stack_json(out, ci)
        assert list(resources(doc, "aws_iam_openid_connect_provider")) == ["github_oidc"]
        provider = doc["provider"]["aws"][0]
        assert provider["allowed_account_ids"] == [account]
        assert provider["default_tags"][0]["tags"]["lambdaform:environment"] == owner
        assert doc["terraform"]["backend"]["s3"]["key"] == f"lambdaform/{ci}.tfstate"
    for env, account in (("dev", "111111111111"), ("staging", "111111111111"), ("prod", "222222222222")):
        created, looked_up = oidc_providers(out, f"accts-{env}")
        assert created == {} and looked_up == {}, "named by ARN, never looked up"
        assert stack_json(out, f"accts-{env}")["provider"]["aws"][0]["allowed_account_ids"] == [account]


def test_stack_names_before_synth_match_what_synth_creates(two_accounts):
    from lambdaform.loader import load_service

    result, out = two_accounts
    loaded = load_service(out.parent / "svc" / "service.yaml")
    assert {env: loaded.stack_names(env) for env in loaded.environments} == result.stacks


def test_an_existing_provider_in_any_environment_of_the_account_means_no_ci_stack(tmp_path):
    service = write_service(tmp_path / "svc", """
project: reuse
environments: {dev: {}, prod: {ci: {create_oidc_provider: false}}}
ci: {repository: acme/api}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
""")
    out = tmp_path / "out"
    result = synth_file(service, out)
    assert result.stacks == {"dev": ["reuse-dev"], "prod": ["reuse-prod"]}
    for env in ("dev", "prod"):
        created, looked_up = oidc_providers(out, f"reuse-{env}")
        assert created == {} and looked_up == {}, "named by ARN, never looked up"
        assert "allowed_account_ids" not in stack_json(out, f"reuse-{env}")["provider"]["aws"][0]


def test_iam_user_mode_marks_the_secret_sensitive_and_s3_backend_locks(tmp_path):
    service = write_service(tmp_path / "svc", """
project: parity
state: {backend: s3, bucket: my-state-bucket, key_prefix: teams/data, dynamodb_table: tf-locks}
environments: {dev: {}}
ci: {mode: iam-user}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
""")
    out = tmp_path / "out"
    synth_file(service, out)
    doc = stack_json(out, "parity-dev")
    assert not (out / "stacks" / "parity-ci").exists(), "an IAM user needs no OIDC provider"
    assert doc["output"]["ci_secret_access_key"]["sensitive"] is True
    assert "sensitive" not in doc["output"]["ci_access_key_id"]
    assert only(doc, "aws_iam_user")["name"] == "parity-dev-github-actions"
    assert "aws_iam_openid_connect_provider" not in doc["resource"]
    backend = doc["terraform"]["backend"]["s3"]
    assert backend == {"bucket": "my-state-bucket", "key": "teams/data/parity-dev.tfstate", "region": "us-east-1",
                       "encrypt": True, "dynamodb_table": "tf-locks", "use_lockfile": True}


def test_immutable_github_subject_form_is_trusted_when_ids_are_given(tmp_path):
    service = write_service(tmp_path / "svc", """
project: ids
environments: {prod: {}}
ci: {repository: acme/api, repository_owner_id: 123456, repository_id: 456789, github_environments: [prod],
     terraform_roles: true}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
""")
    out = tmp_path / "out"
    synth_file(service, out)
    doc = stack_json(out, "ids-prod")
    roles = resources(doc, "aws_iam_role")
    deploy = policy_of(roles["ci_deploy_role"], "assume_role_policy")["Statement"][0]
    assert deploy["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:acme/api:ref:refs/heads/main", "repo:acme/api:environment:prod",
        "repo:acme@123456/api@456789:ref:refs/heads/main", "repo:acme@123456/api@456789:environment:prod",
    ]
    plan = policy_of(roles["ci_plan_role"], "assume_role_policy")["Statement"][0]
    assert plan["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:acme/api:pull_request", "repo:acme@123456/api@456789:pull_request"]
    attachments = {r["policy_arn"] for r in resources(doc, "aws_iam_role_policy_attachment").values()}
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in attachments


def test_literal_dollar_braces_in_user_text_are_escaped_and_references_resolved(tmp_path):
    service = write_service(tmp_path / "svc", """
project: refs
environments: {dev: {}}
tables:
  items: {hash_key: {name: id}}
functions:
  hello:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    description: "costs ${5}"
    environment:
      TABLE: "${tables.items.name}"
      LITERAL: "pre-${not.a.ref}-%{x}"
    access: [{table: items, mode: read}]
""")
    out = tmp_path / "out"
    synth_file(service, out)
    doc = stack_json(out, "refs-dev")
    fn = only(doc, "aws_lambda_function")
    assert fn["environment"]["variables"] == {
        "TABLE": "${aws_dynamodb_table.items_table.name}", "LITERAL": "pre-$${not.a.ref}-%%{x}"}
    assert fn["description"] == "costs $${5}"
    grants = policy_of(resources(doc, "aws_iam_role_policy")["hello_role_policy"])["Statement"]
    dynamo = next(s for s in grants if any(a.startswith("dynamodb:") for a in s["Action"]))
    assert "dynamodb:PutItem" not in dynamo["Action"] and "dynamodb:GetItem" in dynamo["Action"]
    assert dynamo["Resource"] == ["${aws_dynamodb_table.items_table.arn}",
                                  "${aws_dynamodb_table.items_table.arn}/index/*"]
    table = only(doc, "aws_dynamodb_table")
    assert table["point_in_time_recovery"] == {"enabled": True}
    assert table["server_side_encryption"] == {"enabled": True, "kms_key_arn": "${aws_kms_key.service_key.arn}"}
    assert table["billing_mode"] == "PAY_PER_REQUEST"


def test_service_key_encrypts_logs_and_environment_and_lets_only_this_accounts_logs_use_it(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    key = only(doc, "aws_kms_key")
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 30
    statements = {s["Sid"]: s for s in policy_of(key)["Statement"]}
    logs = statements["CloudWatchLogsOfThisAccount"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].endswith(":us-east-1:${data.aws_caller_identity.current.account_id}:log-group:*")
    assert only(doc, "aws_kms_alias")["name"] == "alias/nl2sql-agent-dev"
    assert only(doc, "aws_cloudwatch_log_group")["kms_key_id"] == "${aws_kms_key.service_key.arn}"
    assert only(doc, "aws_lambda_function")["kms_key_arn"] == "${aws_kms_key.service_key.arn}"


def test_secrets_reach_functions_as_references_with_exactly_scoped_reads(nl2sql):
    doc = stack_json(nl2sql, "nl2sql-agent-dev")
    variables = only(doc, "aws_lambda_function")["environment"]["variables"]
    assert variables["DATABASE_URL_PARAMETER"] == "/nl2sql-agent/database-url"
    assert variables["GEMINI_API_KEY_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    grants = policy_of(resources(doc, "aws_iam_role_policy")["api_role_policy"])["Statement"]
    ssm = next(s for s in grants if s["Action"] == "ssm:GetParameter")
    assert ssm["Resource"] == ("arn:${data.aws_partition.current.partition}:ssm:us-east-1:"
                               "${data.aws_caller_identity.current.account_id}:parameter/nl2sql-agent/database-url")
    manager = next(s for s in grants if "secretsmanager:GetSecretValue" in s["Action"])
    assert manager["Resource"] == variables["GEMINI_API_KEY_SECRET_ARN"]
    text = json.dumps(doc)
    assert "hunter2" not in text and "postgresql://" not in text
