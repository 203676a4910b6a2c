"""PLACEHOLDER - replaced by the alarms section."""
from lambdaform.fields import Strict
KEY = "alarms"
class AlarmsSection(Strict):
    pass
def compose(stack) -> None:
    raise NotImplementedError
