# Regenerates tests/invalid/*.yaml: each file is one invalid service file with the field path and
# reason the CLI must report in its two header lines. Run from the repository root.
import textwrap, pathlib
BASE = """project: corpus
environments: {dev: {}, prod: {}}
functions:
  hello:
    runtime: provided.al2023
    source: ../../handlers/vela_runtime
    handler: app.velac
"""
def fn(extra): return BASE + textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ") + "\n"
cases = [
 ("yaml-unclosed-list", "project: [unclosed\n", "", "invalid YAML"),
 ("yaml-bad-indentation", "project: corpus\nfunctions:\n  hello:\n    source: x\n   handler: y\n", "", "invalid YAML"),
 ("yaml-duplicate-key", BASE + "project: again\n", "", "duplicate key 'project'"),
 ("yaml-empty", "# nothing here\n", "", "is empty"),
 ("yaml-top-level-list", "- project: corpus\n", "", "top level must be a mapping"),
 ("yaml-two-documents", BASE + "---\n" + BASE, "", "several YAML documents"),
 ("yaml-tab-character", "project:\tcorpus\nfunctions:\n\thello: {}\n", "", "invalid YAML"),
 ("unknown-top-level-key", BASE + "projct: typo\n", "projct", "did you mean 'project'"),
 ("unknown-function-key", fn("memory: 512"), "functions.hello.memory", "did you mean 'memory_mb'"),
 ("unknown-key-no-suggestion", fn("zzzqqq: 1"), "functions.hello.zzzqqq", "unknown key"),
 ("memory-wrong-type", fn("memory_mb: lots"), "functions.hello.memory_mb", "valid integer"),
 ("memory-negative", fn("memory_mb: -5"), "functions.hello.memory_mb", "greater than or equal to 128"),
 ("memory-too-large", fn("memory_mb: 20000"), "functions.hello.memory_mb", "less than or equal to 10240"),
 ("memory-float", fn("memory_mb: 512.5"), "functions.hello.memory_mb", "integer"),
 ("timeout-over-900", fn("timeout_seconds: 901"), "functions.hello.timeout_seconds", "less than or equal to 900"),
 ("timeout-zero", fn("timeout_seconds: 0"), "functions.hello.timeout_seconds", "greater than or equal to 1"),
 ("timeout-string", fn("timeout_seconds: soon"), "functions.hello.timeout_seconds", "valid integer"),
 ("project-invalid-characters", BASE.replace("project: corpus", "project: My_Project"), "project", "should match pattern"),
 ("project-too-long", BASE.replace("project: corpus", "project: " + "a" * 40), "project", "at most 32 characters"),
 ("project-missing", BASE.replace("project: corpus\n", ""), "project", "Field required"),
 ("region-invalid", BASE + "region: moon-1\n", "region", "should match pattern"),
 ("function-key-uppercase", BASE.replace("  hello:", "  Hello:"), "functions.Hello", "should match pattern"),
 ("function-key-underscore", BASE.replace("  hello:", "  hello_world:"), "functions.hello_world", "should match pattern"),
 ("source-missing", BASE.replace("    source: ../../handlers/vela_runtime\n", ""), "functions.hello.source", "Field required"),
 ("source-folder-missing", BASE.replace("handlers/vela_runtime", "handlers/nope"), "functions.hello.source", "does not exist"),
 ("handler-missing-for-python", BASE.replace("provided.al2023", "python3.12").replace("    handler: app.velac\n", ""), "functions.hello", "handler is required"),
 ("runtime-out-of-support", BASE.replace("provided.al2023", "python3.9"), "functions.hello.runtime", "Input should be"),
 ("architecture-invalid", fn("architecture: x86"), "functions.hello.architecture", "'x86_64' or 'arm64'"),
 ("log-retention-not-allowed", fn("log_retention_days: 15"), "functions.hello.log_retention_days", "must be one of"),
 ("reserved-concurrency-negative", fn("reserved_concurrency: -1"), "functions.hello.reserved_concurrency", "greater than or equal to 0"),
 ("reserved-concurrency-above-account-default", fn("reserved_concurrency: 5000"), "functions.hello.reserved_concurrency", "less than or equal to 1000"),
 ("environment-reserved-variable", fn("environment: {AWS_REGION: eu-west-1}"), "functions.hello.environment", "set by Lambda itself"),
 ("environment-bad-variable-name", fn("environment: {1BAD: x}"), "functions.hello.environment.1BAD", "should match pattern"),
 ("environment-value-not-string", fn("environment: {LEVEL: {nested: true}}"), "functions.hello.environment.LEVEL", "valid string"),
 ("url-auth-invalid", fn("url: {auth: PUBLIC}"), "functions.hello.url.auth", "'AWS_IAM' or 'NONE'"),
 ("url-cors-origin-with-path", fn("url: {cors: {allow_origins: ['https://a.example.com/path']}}"), "functions.hello.url.cors.allow_origins", "is not an origin"),
 ("url-invoke-mode-invalid", fn("url: {invoke_mode: STREAMING}"), "functions.hello.url.invoke_mode", "'BUFFERED' or 'RESPONSE_STREAM'"),
 ("ephemeral-storage-too-small", fn("ephemeral_storage_mb: 100"), "functions.hello.ephemeral_storage_mb", "greater than or equal to 512"),
 ("image-without-handler", BASE.replace("    runtime: provided.al2023\n", "    package: image\n").replace("    handler: app.velac\n", ""), "functions.hello", "handler is required for image functions"),
 ("dockerfile-on-zip-function", fn("dockerfile: Dockerfile"), "functions.hello", "dockerfile applies to image functions only"),
 ("dockerfile-missing", BASE.replace("    runtime: provided.al2023\n", "    package: image\n") + "    dockerfile: Dockerfile.missing\n", "functions.hello.dockerfile", "does not exist"),
 ("image-without-requirements", BASE.replace("    runtime: provided.al2023\n", "    package: image\n"), "functions.hello.source", "requirements.txt"),
 ("bootstrap-missing", BASE.replace("handlers/vela_runtime", "handlers/api"), "functions.hello.source", "needs an executable 'bootstrap'"),
 ("required-file-missing", fn("required_files: [build/app.velac]"), "functions.hello.required_files", "'build/app.velac' is missing"),
 ("override-unknown-key", BASE.replace("prod: {}", "prod: {functions: {hello: {memroy_mb: 1}}}"), "environments.prod.functions.hello.memroy_mb", "did you mean 'memory_mb'"),
 ("override-bad-value", BASE.replace("prod: {}", "prod: {functions: {hello: {memory_mb: 64}}}"), "environments.prod.functions.hello.memory_mb", "greater than or equal to 128"),
 ("override-project", BASE.replace("prod: {}", "prod: {project: other}"), "environments.prod.project", "cannot be overridden"),
 ("override-not-a-mapping", BASE.replace("prod: {}", "prod: [memory_mb]"), "environments.prod", "valid dictionary"),
 ("environment-name-invalid", BASE.replace("prod: {}", "Prod!: {}"), "environments.Prod!", "should match pattern"),
 ("environments-empty", BASE.replace("environments: {dev: {}, prod: {}}", "environments: {}"), "environments", "at least 1 item"),
 ("function-name-too-long", BASE.replace("project: corpus", "project: " + "p" * 30).replace("  hello:", "  " + "h" * 30 + ":"), "functions." + "h" * 30, "longer than Lambda's 64 characters"),
 ("ci-oidc-without-repository", BASE + "ci: {mode: github-oidc}\n", "ci", "repository (owner/name) is required"),
 ("ci-repository-bad-format", BASE + "ci: {repository: just-a-name}\n", "ci.repository", "should match pattern"),
 ("ci-only-one-id", BASE + "ci: {repository: a/b, repository_id: 5}\n", "ci", "go together"),
 ("ci-mode-invalid", BASE + "ci: {mode: gitlab, repository: a/b}\n", "ci.mode", "'github-oidc' or 'iam-user'"),
 ("state-s3-without-bucket", BASE + "state: {backend: s3}\n", "state", "bucket is required"),
 ("state-bucket-invalid-name", BASE + "state: {backend: s3, bucket: My_Bucket}\n", "state.bucket", "should match pattern"),
 ("tag-key-reserved-prefix", BASE + "tags: {'aws:owner': me}\n", "tags", "not start with 'aws:'"),
 ("tag-value-too-long", BASE + "tags: {team: " + "x" * 300 + "}\n", "tags.team", "at most 256 characters"),
 ("permission-wildcard-resource", fn("permissions: [{actions: ['s3:GetObject'], resources: ['*']}]"), "functions.hello.permissions.0.resources.0", "should match pattern"),
 ("permission-bad-action", fn("permissions: [{actions: ['s3 GetObject'], resources: ['arn:aws:s3:::b/*']}]"), "functions.hello.permissions.0.actions.0", "should match pattern"),
 ("access-undeclared-table", fn("access: [{table: missing}]"), "functions.hello.access.0.table", "'missing' is not declared under tables"),
 ("access-two-targets", BASE + "tables: {tt: {hash_key: {name: id}}}\nbuckets: {bb: {}}\n" .replace("", "") + "", "", ""),
 ("env-reference-undeclared", fn("environment: {TABLE: '${tables.nope.name}'}"), "functions.hello.environment.TABLE", "refers to tables.nope, which is not declared"),
 ("env-reference-bad-attribute", BASE + "queues: {jobs: {}}\n" + "", "", ""),
 ("table-key-type-invalid", BASE + "tables: {items: {hash_key: {name: id, type: X}}}\n", "tables.items.hash_key.type", "'S', 'N' or 'B'"),
 ("table-missing-hash-key", BASE + "tables: {items: {ttl_attribute: ttl}}\n", "tables.items.hash_key", "Field required"),
 ("bucket-expiry-zero-days", BASE + "buckets: {files: {expire_after_days: {'executions/': 0}}}\n", "buckets.files.expire_after_days.executions/", "greater than or equal to 1"),
 ("too-many-layers", fn("layers: [" + ", ".join(f"'arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1'" for i in range(6)) + "]"), "functions.hello.layers", "at most 5 items"),
 ("vpc-bad-subnet-id", fn("vpc: {subnet_ids: [subnet-xyz], security_group_ids: [sg-0123456789abcdef0]}"), "functions.hello.vpc.subnet_ids.0", "should match pattern"),
 ("no-functions", "project: corpus\nenvironments: {dev: {}}\n", "", "declare at least one function"),
 ("registry-keep-zero-images", BASE + "registry: {keep_last_images: 0}\n", "registry.keep_last_images", "greater than or equal to 1"),
 ("secret-aws-key-in-environment", fn("environment: {UPSTREAM: AKIAIOSFODNN7EXAMPLE}"), "functions.hello.environment", "contains an AWS access key id"),
 ("secret-password-in-url", fn("environment: {DATABASE_URL: 'postgresql://user:hunter2@db:5432/app'}"), "functions.hello.environment", "URL with a password"),
 ("secret-api-key-literal", fn("environment: {GEMINI_API_KEY: AIzaSyExampleExample123}"), "functions.hello.environment", "GEMINI_API_KEY names a secret"),
 ("secret-undeclared", fn("secrets: {DB_PARAMETER: database}"), "functions.hello.secrets.DB_PARAMETER", "'database' is not declared under secrets"),
 ("secret-two-sources", BASE + "secrets: {db: {ssm_parameter: /a/b, secrets_manager_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf'}}\n", "secrets.db", "exactly one of ssm_parameter or secrets_manager_arn"),
 ("secret-bad-parameter-name", BASE + "secrets: {db: {ssm_parameter: 'no-leading-slash'}}\n", "secrets.db.ssm_parameter", "should match pattern"),
 ("secret-also-in-environment", fn("environment: {DB: x}\nsecrets: {DB: db}") + "secrets: {db: {ssm_parameter: /app/db}}\n", "functions.hello.secrets.DB", "also set in environment"),
 ("function-not-a-mapping", "project: corpus\nfunctions:\n  hello: just-a-string\n", "functions.hello", "valid dictionary"),
]
# fix the two composite cases
fixed = []
for name, text, path, reason in cases:
    if name == "access-two-targets":
        text = BASE + "    access: [{table: tt, bucket: bb}]\n" + "tables: {tt: {hash_key: {name: id}}}\nbuckets: {bb: {}}\n"
        path, reason = "functions.hello.access.0", "give exactly one of table, bucket, queue or topic"
    if name == "env-reference-bad-attribute":
        text = BASE + "    environment: {Q: '${queues.jobs.region}'}\n" + "queues: {jobs: {}}\n"
        path, reason = "functions.hello.environment.Q", "queues have name, arn, url, not 'region'"
    fixed.append((name, text, path, reason))
root = pathlib.Path("tests/invalid")
for old in root.glob("*.yaml"): old.unlink()
for i, (name, text, path, reason) in enumerate(fixed, 1):
    header = f"# expect-path: {path}\n# expect-reason: {reason}\n"
    (root / f"{i:02d}-{name}.yaml").write_text(header + text)
(root / f"{len(fixed)+1:02d}-not-utf8.yaml").write_bytes(b"# expect-path: \n# expect-reason: is not UTF-8\nproject: caf\xe9\n")
print(len(fixed)+1)
