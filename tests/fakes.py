"""A fake Telegram Bot API: the edge we cannot reach from here.

`FakeTelegram` answers Bot API methods with results shaped like the real ones (field names
and types as in https://core.telegram.org/bots/api: dates in seconds, `is_bot` on users,
`chat.type`, `message_id`, ...), keeps the updates members send, and records every call.
It is used two ways:

- `RecordingRequest`: a python-telegram-bot request double, for handler tests through
  `Application.process_update` (no sockets);
- `FakeBotApiServer`: an aiohttp server on 127.0.0.1 speaking the Bot API over HTTP
  (`/bot<token>/<method>`, form or multipart parameters, getUpdates with offset and
  long-poll timeout), for end-to-end tests of `python -m bot run`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from pathlib import Path

from aiohttp import web
from telegram.request import BaseRequest, RequestData

from bot.knowledge import Knowledge

BOT_ID = 7000000001
BOT_USERNAME = "bp_test_bot"
TOKEN = "7000000001:TEST-token-for-the-fake-api"

# Parameters whose values PTB sends JSON-encoded in form data.
_JSON_PARAMS = {
    "chat_id", "message_id", "reply_markup", "commands", "offset", "timeout", "limit",
    "allowed_updates", "show_alert", "reply_parameters", "link_preview_options", "entities",
    "caption_entities", "cache_time", "is_anonymous", "options", "correct_option_id",
    "drop_pending_updates", "from_chat_id", "message_thread_id", "scope", "results",
    "open_period", "allows_multiple_answers", "disable_notification", "protect_content",
    "correct_option_ids",
}


def user(user_id: int, first_name: str = "Medlem", is_bot: bool = False, username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username:
        data["username"] = username
    return data


def chat(chat_id: int, chat_type: str = "private") -> dict[str, Any]:
    data: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        data["first_name"] = "Medlem"
    else:
        data["title"] = "Testgruppe"
    return data


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """An injected error: the next matching call gets this answer instead."""

    status: int
    description: str
    parameters: dict[str, Any] | None = None
    chat_id: int | None = None  # only calls for this chat; None = any


@dataclass
class FakeTelegram:
    bot_user: dict[str, Any] = field(default_factory=lambda: user(BOT_ID, "BP Bot", True, BOT_USERNAME))
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._callback_ids = itertools.count(1)
        self.new_update = asyncio.Event()

    # -- what members do -----------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(update)
        self.new_update.set()
        return update

    def message_update(self, text: str, *, user_id: int = 111, chat_id: int | None = None,
                       chat_type: str = "private", reply_to: dict[str, Any] | None = None,
                       entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        cid = chat_id if chat_id is not None else user_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": chat(cid, chat_type), "from": user(user_id), "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return self._push({"update_id": next(self._update_ids), "message": message})

    def tap(self, message: dict[str, Any], data: str, *, user_id: int = 111) -> dict[str, Any]:
        query = {
            "id": str(next(self._callback_ids)), "from": user(user_id),
            "chat_instance": f"ci{message['chat']['id']}", "data": data, "message": message,
        }
        return self._push({"update_id": next(self._update_ids), "callback_query": query})

    # -- what the bot sent ---------------------------------------------------------------

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        mine = [m for (cid, _), m in self.messages.items() if cid == chat_id]
        return max(mine, key=lambda m: m["message_id"])

    @staticmethod
    def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def fail_next(self, method: str, failure: Failure) -> None:
        self.failures.setdefault(method, []).append(failure)

    # -- the API -------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(Call(method, params))
        for failure in list(self.failures.get(method, [])):
            if failure.chat_id is None or failure.chat_id == _int(params.get("chat_id")):
                self.failures[method].remove(failure)
                body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                        "description": failure.description}
                if failure.parameters:
                    body["parameters"] = failure.parameters
                return failure.status, body
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return 200, {"ok": True, "result": handler(params)}

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot_user | {"can_join_groups": True, "can_read_all_group_messages": False,
                                "supports_inline_queries": True}

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = _int(params.get("offset")) or 0
        limit = _int(params.get("limit")) or 100
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones go
        return self.updates[:limit]

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = _int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": chat(chat_id, "private" if chat_id > 0 else "supergroup"),
            "from": self.bot_user, **content,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = _json(params["reply_markup"])
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._new_message(params, text=params["text"])

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = [{"file_id": "AgACAgQAAx0", "file_unique_id": "AQADc", "width": 800,
                  "height": 700, "file_size": 40000}]
        content: dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._new_message(params, **content)

    def _m_sendPoll(self, params: dict[str, Any]) -> Any:
        # Bot API 9.6: options carry a persistent_id; quizzes give correct_option_ids.
        options = _json(params["options"])
        poll_id = str(next(self._callback_ids) + 5_000_000)
        poll: dict[str, Any] = {
            "id": poll_id, "question": params["question"],
            "options": [{"persistent_id": f"{poll_id}-{i}",
                         "text": o if isinstance(o, str) else o["text"], "voter_count": 0}
                        for i, o in enumerate(options)],
            "total_voter_count": 0, "is_closed": False,
            "is_anonymous": bool(_json(params.get("is_anonymous", "true"))),
            "type": params.get("type", "regular"), "allows_multiple_answers": False,
            "allows_revoting": False, "members_only": False,
        }
        if "correct_option_ids" in params:
            poll["correct_option_ids"] = [int(i) for i in _json(params["correct_option_ids"])]
        if params.get("explanation"):
            poll["explanation"] = params["explanation"]
        return self._new_message(params, poll=poll)

    def poll_answer(self, poll_id: str, user_id: int, name: str, option: int) -> dict[str, Any]:
        answer = {"poll_id": poll_id, "user": user(user_id, name), "option_ids": [option],
                  "option_persistent_ids": [f"{poll_id}-{option}"]}
        return self._push({"update_id": next(self._update_ids), "poll_answer": answer})

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        key = (_int(params["chat_id"]), _int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            message = {"message_id": key[1], "date": int(time.time()), "chat": chat(key[0]),
                       "from": self.bot_user}
        message = message | {"text": params["text"], "edit_date": int(time.time())}
        if params.get("reply_markup"):
            message["reply_markup"] = _json(params["reply_markup"])
        self.messages[key] = message
        return message

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        key = (_int(params["chat_id"]), _int(params["message_id"]))
        message = self.messages.get(key, {"message_id": key[1], "date": int(time.time()),
                                          "chat": chat(key[0]), "from": self.bot_user, "text": ""})
        markup = _json(params.get("reply_markup") or "{}")
        message = {k: v for k, v in message.items() if k != "reply_markup"}
        if markup.get("inline_keyboard"):  # without one, Telegram removes the keyboard
            message["reply_markup"] = markup
        self.messages[key] = message
        return message

    def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _m_stopPoll(self, params: dict[str, Any]) -> Any:
        return {"id": "1", "question": "", "options": [], "total_voter_count": 0, "is_closed": True,
                "is_anonymous": False, "type": "quiz", "allows_multiple_answers": False}


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class RecordingRequest(BaseRequest):
    """python-telegram-bot request double: every call goes to a FakeTelegram, no sockets."""

    def __init__(self, fake: FakeTelegram):
        self.fake = fake

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        status, body = self.fake.handle(api_method, params)
        return status, json.dumps(body).encode()


class FakeBotApiServer:
    """The Bot API over HTTP on 127.0.0.1, backed by a FakeTelegram."""

    def __init__(self, fake: FakeTelegram, token: str = TOKEN):
        self.fake = fake
        self.token = token
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What TELEGRAM_BASE_URL should be: the token is appended, as in PTB's base_url."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename:  # an uploaded file: keep its size only
                    params[part.name] = {"filename": part.filename, "size": len(await part.read())}
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            if request.content_type == "application/json":
                params = await request.json()
            else:
                params = dict(await request.post())
        params.update(request.query)
        params = {k: (_json(v) if k in _JSON_PARAMS else v) for k, v in params.items()}
        if method == "getUpdates":
            await self._wait_for_updates(params)
        status, body = self.fake.handle(method, params)
        return web.json_response(body, status=status)

    async def _wait_for_updates(self, params: dict[str, Any]) -> None:
        """Long polling: hold the request up to `timeout` seconds until an update arrives."""
        offset = _int(params.get("offset")) or 0
        # Telegram may answer a long poll early with no updates; holding at most 1 s keeps a
        # bot's shutdown in the tests quick.
        deadline = asyncio.get_running_loop().time() + min(float(params.get("timeout") or 0), 1.0)
        while not any(u["update_id"] >= offset for u in self.fake.updates):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self.fake.new_update.clear()
            try:
                await asyncio.wait_for(self.fake.new_update.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass


def bot_env(server: FakeBotApiServer, db: Path, **settings: str) -> dict[str, str]:
    """The environment for `python -m bot …` against this fake API, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=server.base_url, BOT_DB=str(db), **settings)
    return env


async def planned_broadcast(db: Path, knowledge: Knowledge, subscribers: int, first_chat: int) -> int:
    """A database with `subscribers` subscribers to everything and one broadcast planned."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.campaign import Campaign
    from bot.storage import Storage

    store = await Storage.open(db)
    now = datetime.now(UTC)
    await store.add_subscribers([(first_chat + i, "alle") for i in range(subscribers)], now)
    broadcast_id = await Campaign(knowledge, store, lambda: now, ZoneInfo("Europe/Copenhagen")).broadcast("manual")
    await store.close()
    assert broadcast_id is not None
    return broadcast_id
