"""Images (screenshots) and voice messages: type checked by content, size limited, stored on
disk under their hash, recorded in the database.

Staff fetch them with their login cookie; a citizen's messages carry signed links (the file's
id, an expiry and an HMAC over both), which work on any site that embeds the chat and open
that one file only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import filetype
from sqlite_utils.db import NotFoundError

from kb import clock
from kb.store import KnowledgeBase

MAX_BYTES = 5 * 1024 * 1024
LINK_SECONDS = 24 * 3600  # a citizen's link to a file lasts a day
KINDS = {  # what content we accept, by the type its bytes show
    "image/png": "image", "image/jpeg": "image", "image/gif": "image", "image/webp": "image",
    "audio/webm": "voice", "video/webm": "voice", "audio/ogg": "voice", "audio/mpeg": "voice",
    "audio/mp4": "voice", "video/mp4": "voice", "audio/x-wav": "voice", "audio/wav": "voice",
}


class AttachmentRejected(ValueError):
    """Too big, empty, or not an image or sound by its content (the message says which)."""


@dataclass(frozen=True)
class Attachment:
    id: str
    conversation_id: str
    kind: str  # image or voice
    mime: str
    size: int
    path: Path

    @property
    def url(self) -> str:
        return f"/api/attachments/{self.id}"


class AttachmentStore:
    def __init__(self, kb: KnowledgeBase, directory: Path) -> None:
        self.db = kb.db
        self.directory = directory
        # One secret for every gateway sharing the database, made once.
        self.db["meta"].insert({"key": "attachment_secret", "value": secrets.token_hex(32)},
                               ignore=True)
        self.secret = self.db["meta"].get("attachment_secret")["value"].encode()

    def _signature(self, attachment_id: str, expires: int) -> str:
        return hmac.new(self.secret, f"{attachment_id}:{expires}".encode(),
                        hashlib.sha256).hexdigest()[:32]

    def signed_url(self, url: str) -> str:
        """`url` (/api/attachments/<id>) with an expiring signature for the citizen."""
        expires = int(time.time()) + LINK_SECONDS
        return f"{url}?exp={expires}&sig={self._signature(url.rsplit('/', 1)[1], expires)}"

    def signature_valid(self, attachment_id: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self._signature(attachment_id, int(expires)), signature)

    def add(self, conversation_id: str, data: bytes, uploader: str) -> Attachment:
        if not data:
            raise AttachmentRejected("文件为空")
        if len(data) > MAX_BYTES:
            raise AttachmentRejected(f"文件超过 {MAX_BYTES // (1024 * 1024)} MB")
        guessed = filetype.guess(data)
        mime = guessed.mime if guessed else ""
        if mime not in KINDS:
            raise AttachmentRejected("只能发送图片（PNG、JPEG、GIF、WebP）或语音")
        digest = hashlib.sha256(data).hexdigest()
        path = self.directory / f"{digest}.{guessed.extension}"
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            staging = path.with_suffix(".part")
            staging.write_bytes(data)
            staging.replace(path)
        attachment = Attachment(secrets.token_urlsafe(16), conversation_id, KINDS[mime], mime,
                                len(data), path)
        self.db["attachments"].insert({
            "id": attachment.id, "conversation_id": conversation_id, "kind": attachment.kind,
            "mime": mime, "size": len(data), "path": str(path), "uploader": uploader,
            "created_at": clock.timestamp()})
        return attachment

    def get(self, attachment_id: str) -> Attachment | None:
        try:
            row = self.db["attachments"].get(attachment_id)
        except NotFoundError:
            return None
        return Attachment(row["id"], row["conversation_id"], row["kind"], row["mime"],
                          row["size"], Path(row["path"]))
