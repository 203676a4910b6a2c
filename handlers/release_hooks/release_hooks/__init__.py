"""CodeDeploy lifecycle hooks for a Lambda alias rollout (examples/release-train.yaml)."""
