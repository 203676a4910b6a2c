"""Fake ``docker`` for workflows run under act: ``docker login`` succeeds, and
``docker buildx build ... --tag IMG:TAG ... --push CTX`` pushes a placeholder image manifest for every tag to
the emulator's ECR (what a real push leaves there for Lambda to point at). Anything else fails, so a workflow
that starts calling docker differently is noticed.

The harness writes a ``docker`` wrapper that runs this file with the prepared virtualenv's python (boto3);
the emulator comes from ``LAMBDAFORM_ENDPOINT`` (set by the configure-aws-credentials stand-in). Every call
is recorded in ``LF_ACT_STORE/docker.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the harness's shared helpers
from support import placeholder_manifest  # noqa: E402

VALUE_FLAGS = {"--tag", "-t", "--file", "-f", "--platform", "--build-context", "--build-arg", "--provenance",
               "--sbom", "--label", "--target", "--cache-from", "--cache-to", "--metadata-file"}
BOOL_FLAGS = {"--push", "--pull", "--no-cache", "--quiet", "-q"}


def fail(message: str) -> int:
    print(f"fake docker: {message}", file=sys.stderr)
    return 2


def record(args: list[str]) -> None:
    store = os.environ.get("LF_ACT_STORE")
    if store:
        with open(Path(store) / "docker.jsonl", "a", encoding="utf-8") as sink:
            sink.write(json.dumps({"args": args, "job": os.environ.get("GITHUB_JOB", "")}) + "\n")


def parse_build(args: list[str]) -> tuple[dict[str, list[str]], set[str], list[str]]:
    values: dict[str, list[str]] = {}
    flags: set[str] = set()
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if arg.startswith("-") and name in VALUE_FLAGS:
            if eq:
                value = inline
            else:
                i += 1
                if i == len(args):
                    raise ValueError(f"{arg} needs a value")
                value = args[i]
            values.setdefault({"-t": "--tag", "-f": "--file"}.get(name, name), []).append(value)
        elif arg in BOOL_FLAGS:
            flags.add(arg)
        elif arg.startswith("-"):
            raise ValueError(f"unsupported option {arg}")
        else:
            positional.append(arg)
        i += 1
    return values, flags, positional


def push(tag_ref: str) -> str:
    import boto3

    registry_and_repo, _, tag = tag_ref.rpartition(":")
    if not registry_and_repo or "/" in tag:
        raise ValueError(f"--tag {tag_ref!r} is not REGISTRY/REPOSITORY:TAG")
    registry, _, repository = registry_and_repo.partition("/")
    if ".dkr.ecr." not in registry or not repository:
        raise ValueError(f"--tag {tag_ref!r} does not name an ECR repository")
    endpoint = os.environ.get("LAMBDAFORM_ENDPOINT")
    if not endpoint:
        raise ValueError("LAMBDAFORM_ENDPOINT is not set (configure AWS credentials first)")
    region = registry.split(".dkr.ecr.", 1)[1].split(".", 1)[0]
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name=region)
    try:
        result = ecr.put_image(repositoryName=repository, imageManifest=placeholder_manifest(), imageTag=tag)
    except ecr.exceptions.ImageAlreadyExistsException:
        # Every placeholder has the same content: a second push of the same tag is what a real `docker push`
        # of an unchanged image does, a no-op (moto, like ECR's PutImage API, reports it as an error).
        (found,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
        return found["imageDigest"]
    return result["image"]["imageId"]["imageDigest"]


def build(args: list[str]) -> int:
    try:
        values, flags, positional = parse_build(args)
    except ValueError as exc:
        return fail(f"buildx build: {exc}")
    if "--push" not in flags:
        return fail("buildx build without --push (the workflows push what they build)")
    if len(positional) != 1 or not Path(positional[0]).is_dir():
        return fail(f"buildx build needs exactly one existing build context folder, got {positional}")
    dockerfile = Path(values.get("--file", [str(Path(positional[0]) / "Dockerfile")])[-1])
    if not dockerfile.is_file():
        return fail(f"no Dockerfile at {dockerfile}")
    for context in values.get("--build-context", []):
        name, _, folder = context.partition("=")
        if not name or not Path(folder).is_dir():
            return fail(f"--build-context {context!r} is not NAME=existing-folder")
    tags = values.get("--tag", [])
    if not tags:
        return fail("buildx build without --tag")
    for tag in tags:
        try:
            digest = push(tag)
        except Exception as exc:  # noqa: BLE001 - report any push failure as docker would
            return fail(f"push {tag}: {exc}")
        print(f"{tag}: digest: {digest}")
    return 0


def main(argv: list[str]) -> int:
    record(argv)
    if argv[:1] == ["login"]:
        print("Login Succeeded")
        return 0
    if argv[:2] == ["buildx", "build"]:
        return build(argv[2:])
    return fail(f"unsupported command: docker {' '.join(argv)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
