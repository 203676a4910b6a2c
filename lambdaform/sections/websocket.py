"""PLACEHOLDER - replaced by the websocket section."""
from lambdaform.fields import Strict
KEY = "websocket"
class WebSocketSection(Strict):
    pass
def compose(stack) -> None:
    raise NotImplementedError
