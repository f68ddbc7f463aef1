"""Reload knowledge/ and intents/ while the bot runs: /genindlaes (coordinators) or SIGHUP.

The new knowledge is loaded and validated completely before anything changes; then the
engine, the quiz bank and the talking points are swapped in one step. A broken file leaves
the old knowledge serving and the problems are reported as FILE:LINE.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from html import escape

from telegram import Update
from telegram.ext import Application

from bot.engine import Engine
from bot.knowledge import KnowledgeError, load_knowledge
from bot.telegram.coordinators import coordinator_only
from bot.telegram.render import split_message
from bot.telegram.services import Context, Services

log = logging.getLogger(__name__)


async def reload_knowledge(svc: Services) -> list[str]:
    """Problems as 'FILE:LINE: message' (nothing changed), or [] when the new knowledge serves."""
    knowledge_dir, intents_dir = svc.knowledge_dirs
    try:
        knowledge = await asyncio.to_thread(load_knowledge, knowledge_dir, intents_dir)
        engine = await asyncio.to_thread(Engine, knowledge)
    except KnowledgeError as exc:
        return [str(p) for p in exc.problems]
    svc.engine = engine  # one assignment: a message is answered by the old or the new, whole
    svc.quiz = None  # rebuilt from the new knowledge on first use
    svc.campaign = None
    log.info("knowledge reloaded: %d entries", len(knowledge.entries))
    return []


@coordinator_only
async def reload_command(update: Update, context: Context) -> None:
    problems = await reload_knowledge(context.bot_data)
    if problems:
        text = ("<b>Vidensbasen blev ikke genindlæst</b> – den gamle bruges stadig. Ret disse fejl:\n\n"
                + "\n".join(f"<code>{escape(p)}</code>" for p in problems[:40]))
        for part in split_message(text):
            await update.effective_message.reply_text(part)
        return
    knowledge = context.bot_data.core.knowledge
    await update.effective_message.reply_text(
        f"✅ Vidensbasen er genindlæst: {len(knowledge.entries)} svar, {len(knowledge.intents)} samtaleemner.")


def install_sighup(app: Application) -> None:  # type: ignore[type-arg]
    """SIGHUP reloads, as for most daemons (`systemctl reload` sends it)."""
    svc: Services = app.bot_data

    async def on_hup() -> None:
        problems = await reload_knowledge(svc)
        for problem in problems:
            log.error("reload refused: %s", problem)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lambda: app.create_task(on_hup()))
    except (NotImplementedError, RuntimeError):  # not on this platform / no running loop
        pass
