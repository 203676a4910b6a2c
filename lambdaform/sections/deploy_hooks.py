"""PLACEHOLDER - replaced by the deploy_hooks section."""
from lambdaform.fields import Strict
KEY = "deploy_hooks"
class DeployHooksSection(Strict):
    pass
def compose(stack) -> None:
    raise NotImplementedError
