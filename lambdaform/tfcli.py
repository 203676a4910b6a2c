"""Run the Terraform CLI the way lambdaform needs it: against a provider mirror, never the user's config.

The Terraform registry may be unreachable (CI without internet, this project's own machines), so every
terraform process lambdaform starts gets its own CLI config file with a ``filesystem_mirror`` block, passed
through ``TF_CLI_CONFIG_FILE``. Nothing is written to ``~/.terraformrc``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "LAMBDAFORM_PROVIDER_MIRROR"
"""Env var naming a filesystem mirror folder (the one holding ``registry.terraform.io/``)."""

_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/providers",
    "/usr/local/share/terraform/plugins",
    "~/.terraform.d/plugins",
)


class TerraformError(RuntimeError):
    """terraform exited non-zero; ``output`` holds what it printed."""

    def __init__(self, args: Sequence[str], returncode: int, output: str):
        self.args_list = list(args)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-30:])
        super().__init__(f"terraform {' '.join(args)} exited {returncode}:\n{tail}")


def find_provider_mirror() -> Path | None:
    """The provider mirror folder: ``$LAMBDAFORM_PROVIDER_MIRROR`` if set, else the first known location
    that holds ``registry.terraform.io/hashicorp/aws``. ``None`` when there is none (use the registry)."""
    override = os.environ.get(MIRROR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    for candidate in _MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path.resolve()
    return None


def cli_config_text(mirror: Path | None, plugin_cache: Path | None = None) -> str:
    """A Terraform CLI config: providers from ``mirror`` only (no registry fallback for them)."""
    lines: list[str] = []
    if plugin_cache is not None:
        lines.append(f'plugin_cache_dir = "{plugin_cache.as_posix()}"')
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror.as_posix()}"',
            '    include = ["registry.terraform.io/*/*"]',
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Terraform:
    """A terraform binary plus the environment lambdaform runs it with."""

    binary: str
    env: Mapping[str, str]

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        check: bool = True,
        extra_env: Mapping[str, str] | None = None,
        stream=None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``terraform ARGS`` in ``cwd``; raise :class:`TerraformError` on a non-zero exit when ``check``.

        ``stream``, if given, is called with each output line as it arrives (for ``--verbose``)."""
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        cmd = [self.binary, *args]
        if stream is None:
            proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True, stdin=subprocess.DEVNULL)
            output = proc.stdout + proc.stderr
        else:
            with subprocess.Popen(
                cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            ) as p:
                chunks = []
                assert p.stdout is not None
                for line in p.stdout:
                    chunks.append(line)
                    stream(line.rstrip("\n"))
                returncode = p.wait()
            output = "".join(chunks)
            proc = subprocess.CompletedProcess(cmd, returncode, output, "")
        if check and proc.returncode != 0:
            raise TerraformError(args, proc.returncode, output)
        return proc


def terraform(
    workdir_for_config: Path,
    *,
    mirror: Path | None = None,
    binary: str | None = None,
    base_env: Mapping[str, str] | None = None,
) -> Terraform:
    """Prepare a :class:`Terraform` whose CLI config file lives in ``workdir_for_config``.

    The mirror defaults to :func:`find_provider_mirror`. The plugin cache sits beside the config so repeated
    ``init`` calls in one session link providers instead of copying ~700 MB each time."""
    exe = binary or shutil.which("terraform")
    if exe is None:
        raise FileNotFoundError("terraform was not found on PATH (install Terraform >= 1.6)")
    mirror = mirror if mirror is not None else find_provider_mirror()
    workdir_for_config.mkdir(parents=True, exist_ok=True)
    cache = workdir_for_config / "plugin-cache"
    cache.mkdir(exist_ok=True)
    config = workdir_for_config / "terraform.rc"
    config.write_text(cli_config_text(mirror, cache))
    env = dict(base_env if base_env is not None else os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return Terraform(binary=exe, env=env)
