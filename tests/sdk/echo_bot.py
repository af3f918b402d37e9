"""A minimal bot written with DingTalk's official Python Stream SDK (dingtalk-stream).

askerp's tests run it against the DingTalk simulator to show that the simulator speaks the
real protocol: the SDK registers (connections/open), connects with the ticket, receives a
robot message, acknowledges it and replies through the message's session webhook.

Usage: DINGTALK_OPENAPI_ENDPOINT=<simulator URL> python echo_bot.py CLIENT_ID CLIENT_SECRET
"""

import logging
import sys

import dingtalk_stream
from dingtalk_stream import AckMessage


class EchoHandler(dingtalk_stream.ChatbotHandler):
    async def process(self, callback: dingtalk_stream.CallbackMessage):
        incoming = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
        text = incoming.text.content.strip() if incoming.text else ""
        self.reply_text("echo: " + text, incoming)
        return AckMessage.STATUS_OK, "OK"


def main():
    logging.basicConfig(level=logging.INFO)
    credential = dingtalk_stream.Credential(sys.argv[1], sys.argv[2])
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_callback_handler(dingtalk_stream.ChatbotMessage.TOPIC, EchoHandler())
    client.start_forever()


if __name__ == "__main__":
    main()
