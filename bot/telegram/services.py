"""What every handler needs, typed: bot_data of the Application (see ContextTypes in app.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from telegram.ext import CallbackContext, ExtBot

from bot.campaign import Campaign
from bot.config import Settings
from bot.delivery import Deliverer
from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR
from bot.engine import Engine
from bot.quiz_session import QuizService
from bot.storage import Storage

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Services:
    """Set up in app.build_application; `storage` is opened in post_init."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.storage: Storage | None = None
        self.quiz: QuizService | None = None  # made on first use, over the open storage
        self.campaign: Campaign | None = None  # likewise
        self.deliverer: Deliverer | None = None
        self.delivery_lock = asyncio.Lock()
        self.knowledge_dirs = (KNOWLEDGE_DIR, INTENTS_DIR)  # what /genindlaes reads
        self.serve_health = False  # webhook mode: GET /health on BOT_HEALTH_PORT
        self.health_runner: object | None = None
        self.clock: Callable[[], datetime] = utcnow

    @property
    def core(self) -> Engine:
        assert self.engine is not None, "build_application sets the engine"
        return self.engine

    @property
    def config(self) -> Settings:
        assert self.settings is not None, "build_application sets the settings"
        return self.settings

    @property
    def db(self) -> Storage:
        if self.storage is None:
            raise RuntimeError("storage is not open")
        return self.storage

    async def is_coordinator(self, user_id: int | None) -> bool:
        if user_id is None:
            return False
        if user_id in self.config.bot_coordinators:
            return True
        try:
            return user_id in await self.db.coordinators()
        except Exception:  # storage down: only the configured coordinators are known
            log.exception("coordinator lookup failed")
            return False


Context = CallbackContext[ExtBot[None], dict, dict, Services]  # type: ignore[type-arg]
