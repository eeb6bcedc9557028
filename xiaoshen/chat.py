"""An interactive terminal conversation with the running stack (like `rasa shell`)."""

from __future__ import annotations

import click

from nlu.topics import TOPIC_NAMES
from xiaoshen.client import ChatClient, Reply, StackUnavailable

QUIT = {"/quit", "/exit", "退出"}


def show(reply: Reply) -> None:
    click.secho(f"小申: {reply.text}", fg="green")
    if reply.item_no is not None:  # the context the next follow-up is read in
        topic = TOPIC_NAMES.get(reply.payload.topic or "", "常见问题")
        click.secho(f"  〔当前事项 {reply.item_no} · {topic} · {reply.payload.entry_id}〕",
                    dim=True)
    for number, button in enumerate(reply.buttons, start=1):
        click.echo(f"  {number}. {button['title']}")


def resolve_choice(text: str, buttons: list[dict[str, str]]) -> str:
    """A number picks the matching quick reply; anything else is sent as typed."""
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return buttons[int(text) - 1]["payload"]
    return text


def run_chat(rasa_url: str) -> None:
    client = ChatClient(rasa_url)
    click.echo("和小申对话（输入 /quit 退出）。Type /quit to leave.")
    buttons: list[dict[str, str]] = []
    try:
        while True:
            try:
                text = click.prompt("您", prompt_suffix=": ").strip()
            except (click.Abort, EOFError):
                break
            if text in QUIT:
                break
            try:
                reply = client.send(resolve_choice(text, buttons))
            except StackUnavailable as error:
                raise StackUnavailable(f"{error}; start it with `xiaoshen serve`") from None
            show(reply)
            buttons = reply.buttons
    finally:
        client.close()
