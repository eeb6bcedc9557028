"""The gateway's client of Rasa: its REST channel for bot turns, and its tracker API to record
the human part of a conversation, so the bot's history stays whole.

A turn that Rasa does not answer within REPLY_LIMIT seconds, or answers without the outcome
payload every Xiaoshen reply carries, is BotUnavailable: with the action server down, Rasa 3.6
logs "Failed to execute custom action" and replies `[]` (only the domain's own responses
still come, and they carry their payload). A turn slower than TURN_TIMEOUT counts as an outage
for the citizen (handoff/relay.py), while its reply is still awaited."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from handoff.protocol import ProtocolError, ReplyPayload
from xiaoshen.secrets import SECRET_HEADER, Secrets

log = logging.getLogger(__name__)


TURN_TIMEOUT = 8.0  # seconds: a turn takes well under 1 s, a few under load (bench/)
REPLY_LIMIT = 60.0  # seconds a slow turn's reply is awaited before the turn is tried again
PROBE_TIMEOUT = 2.0  # seconds for a health check


class BotUnavailable(Exception):
    """Rasa, or the action server behind it, did not answer."""


class BotClient:
    def __init__(self, rasa_url: str, actions_url: str = "", timeout: float = 30.0,
                 secrets: Secrets | None = None, turn_timeout: float = TURN_TIMEOUT) -> None:
        self.rasa_url = rasa_url
        self.actions_url = actions_url
        self.turn_timeout = turn_timeout
        self.http = httpx.AsyncClient(timeout=timeout)
        # Rasa's tracker API wants its token; the action server its shared secret.
        self.rasa_params = {"token": secrets.rasa_token} if secrets else {}
        self.actions_headers = {SECRET_HEADER: secrets.actions_secret} if secrets else {}
        # Human-mode messages wait here for Rasa's tracker, in order, so a slow Rasa never
        # holds up a chat between a person and a seat.
        self.records: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.recorder: asyncio.Task | None = None
        self.background: set[asyncio.Task] = set()  # the loop keeps only weak references
        self._placing: asyncio.Task | None = None  # the request to place misses under way
        self._place_again = False  # misses recorded since it was sent

    async def _post(self, url: str, body: dict[str, Any], what: str,
                    headers: dict[str, str] | None = None,
                    timeout: float | None = None) -> Any:
        try:
            response = await self.http.post(url, json=body, headers=headers,
                                            timeout=timeout or self.http.timeout)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise BotUnavailable(f"{what} did not answer ({error!r})") from None
        return response.json()

    async def send(self, conversation_id: str, text: str
                   ) -> tuple[list[dict[str, Any]], ReplyPayload]:
        """Rasa's messages for one customer message (text, buttons, custom payload) and
        their outcome payload."""
        replies = await self._post(f"{self.rasa_url}/webhooks/rest/webhook",
                                   {"sender": conversation_id, "message": text}, "Rasa",
                                   timeout=REPLY_LIMIT)
        payload = payload_of(replies)
        if payload is None:
            raise BotUnavailable("the action server did not answer (a reply without payload)")
        return replies, payload

    async def healthy(self) -> bool:
        """Whether Rasa has its model loaded and the action server is up."""
        checks = ((f"{self.rasa_url}/status", self.rasa_params),
                  (f"{self.actions_url}/health", {}))
        try:
            responses = await asyncio.gather(*(
                self.http.get(url, params=params, timeout=PROBE_TIMEOUT)
                for url, params in checks))
            return all(r.status_code == 200 for r in responses) and bool(
                responses[0].json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False

    async def record(self, conversation_id: str, sender: str, text: str) -> None:
        """Queue a human-mode message for the Rasa tracker (written in the background)."""
        if self.recorder is None or self.recorder.done():
            self.recorder = asyncio.get_running_loop().create_task(self._write_records())
        self.records.put_nowait((conversation_id, sender, text))

    async def _write_records(self) -> None:
        while True:
            await self._append(*await self.records.get())

    async def _append(self, conversation_id: str, sender: str, text: str) -> None:
        """Append a human-mode message to the Rasa tracker (the bot does not reply to it)."""
        event: dict[str, Any] = {"event": "user" if sender == "customer" else "bot",
                                 "text": text, "timestamp": time.time()}
        if sender == "customer":  # no intent: the bot did not read it
            event |= {"parse_data": {"intent": {}, "entities": []}, "input_channel": "gateway"}
        try:
            response = await self.http.post(
                f"{self.rasa_url}/conversations/{conversation_id}/tracker/events", json=event,
                params={**self.rasa_params, "include_events": "NONE"})  # not the tracker back
            response.raise_for_status()
        except httpx.HTTPError as error:  # the history is a record, not the conversation
            log.warning("could not record a %s message in Rasa's tracker: %s", sender, error)

    async def search_kb(self, query: str, item_no: int | None) -> list[dict[str, Any]]:
        """Entries with their answer wording, from the action server's knowledge base."""
        found = await self._post(f"{self.actions_url}/kb/search",
                                 {"query": query, "item_no": item_no}, "the knowledge base",
                                 self.actions_headers, self.turn_timeout)
        return found["candidates"]

    def place_gaps(self) -> None:
        """Ask the action server, which holds the embedder, to group waiting misses (in the
        background: they wait in the database if it does not answer now). One request places
        every miss waiting, so asks made while one is under way make one more, not one each:
        a start that found thousands of abandoned clarifications sent thousands at once and
        spent seconds queueing them."""
        if self._placing is not None and not self._placing.done():
            self._place_again = True
            return
        self._placing = asyncio.get_running_loop().create_task(self._place_gaps())
        self.background.add(self._placing)
        self._placing.add_done_callback(self.background.discard)

    async def _place_gaps(self) -> None:
        self._place_again = True
        while self._place_again:
            self._place_again = False
            try:
                await self._post(f"{self.actions_url}/gaps/place", {}, "the action server",
                                 self.actions_headers)
            except BotUnavailable as error:
                log.warning("gap questions wait for the grouper: %s", error)
                return

    async def hit_test(self, question: str, entry: dict[str, Any]) -> dict[str, Any]:
        """What the bot would answer `question` with `entry` (a draft) published."""
        return await self._post(f"{self.actions_url}/kb/hit-test",
                                {"question": question, "entry": entry}, "the knowledge base",
                                self.actions_headers)

    async def kb_status(self) -> dict[str, Any]:
        """The base's revision and the one the bot answers from (live_revision)."""
        try:
            response = await self.http.get(f"{self.actions_url}/kb/status",
                                           headers=self.actions_headers)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise BotUnavailable(f"the knowledge base did not answer ({error})") from None
        return response.json()

    async def close(self) -> None:
        if self.recorder is not None:
            self.recorder.cancel()
        await self.http.aclose()


def payload_of(messages: list[dict[str, Any]]) -> ReplyPayload | None:
    """The outcome payload among Rasa's messages for one turn."""
    for message in messages:
        custom = message.get("custom") or {}
        if "outcome" in custom:
            try:
                return ReplyPayload.from_dict(custom)
            except ProtocolError as error:
                log.warning("malformed bot payload: %s", error)
    return None
