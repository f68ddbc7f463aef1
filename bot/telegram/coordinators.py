"""Handlers for campaign coordinators. Every one refuses anyone else and then changes nothing."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from html import escape

from telegram import Update

from bot.review import compute_stats, group_unanswered
from bot.telegram.render import split_message
from bot.telegram.services import Context

log = logging.getLogger(__name__)

REFUSED = "Den kommando er kun for kampagnekoordinatorer."
MAX_DAYS = 365
SHOWN_GROUPS = 30

Handler = Callable[[Update, Context], Awaitable[None]]


def coordinator_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> None:
        user = update.effective_user
        if not await context.bot_data.is_coordinator(user.id if user else None):
            if update.callback_query:
                await update.callback_query.answer(REFUSED, show_alert=True)
            elif update.effective_message:
                await update.effective_message.reply_text(REFUSED)
            return
        await handler(update, context)

    return wrapper


async def _days(update: Update, context: Context, default: int, command: str) -> int | None:
    """The number of days asked for, or None after telling the coordinator how to ask."""
    args = context.args or []
    if not args:
        return default
    if len(args) == 1 and args[0].isdigit() and 1 <= int(args[0]) <= MAX_DAYS:
        return int(args[0])
    await update.effective_message.reply_text(
        f"Skriv antal dage som et tal fra 1 til {MAX_DAYS}, fx {command} {default}")
    return None


@coordinator_only
async def unanswered(update: Update, context: Context) -> None:
    days = await _days(update, context, 7, "/ubesvarede")
    if days is None:
        return
    svc = context.bot_data
    rows = await svc.db.unanswered_since(svc.clock() - timedelta(days=days))
    groups = group_unanswered(rows)
    if not groups:
        await update.effective_message.reply_text(f"Ingen ubesvarede spørgsmål de sidste {days} dage. 🎉")
        return
    lines = [f"<b>Ubesvarede spørgsmål, sidste {days} dage</b>",
             f"{len(rows)} spørgsmål i {len(groups)} grupper – de hyppigste først:", ""]
    for i, g in enumerate(groups[:SHOWN_GROUPS], 1):
        only_suggest = " (fik kun forslag)" if g.kinds.get("fallback", 0) == 0 else ""
        lines.append(f"{i}. <b>{g.count}×</b> {escape(g.text)}{only_suggest}")
    if len(groups) > SHOWN_GROUPS:
        lines.append(f"\n… og {len(groups) - SHOWN_GROUPS} grupper mere. Hele listen: "
                     "<code>python -m bot export-unanswered fil.csv</code>")
    for part in split_message("\n".join(lines)):
        await update.effective_message.reply_text(part)


@coordinator_only
async def statistics(update: Update, context: Context) -> None:
    days = await _days(update, context, 30, "/statistik")
    if days is None:
        return
    svc = context.bot_data
    tz = svc.config.tz
    now = svc.clock()
    since = now - timedelta(days=days)
    rows = await svc.db.questions_since(since)
    votes = await svc.db.votes_per_entry(since)
    stats = compute_stats(rows, votes, since.astimezone(tz).date(), now.astimezone(tz).date(), tz)
    titles = {e.id: e.title for e in svc.core.knowledge.entries}
    lines = [f"<b>Statistik, sidste {days} dage</b>",
             f"{stats.total} spørgsmål, {stats.answered} besvaret ({stats.answered_share:.0%}), "
             f"{stats.crisis} fik krisesvaret."]
    if stats.top_entries:
        lines.append("\n<b>Mest brugte svar</b>")
        for entry, n in stats.top_entries:
            up, down = stats.votes.get(entry, (0, 0))
            lines.append(f"{n}× {escape(titles.get(entry, entry))} (👍 {up} 👎 {down})")
    caption = "\n".join(lines)
    from bot.charts import stats_png  # matplotlib is imported only when a chart is asked for

    png = stats_png(stats, titles)
    if len(caption) <= 1024:
        await update.effective_message.reply_photo(png, caption=caption)
    else:
        await update.effective_message.reply_photo(png)
        await update.effective_message.reply_text(caption)


def _user_id(context: Context) -> int | None:
    args = context.args or []
    if len(args) == 1 and args[0].isdigit():
        return int(args[0])
    return None


@coordinator_only
async def add_coordinator(update: Update, context: Context) -> None:
    user_id = _user_id(context)
    if user_id is None:
        await update.effective_message.reply_text("Skriv brugerens Telegram-id som et tal, fx /koordinator_tilfoej 123456789")
        return
    svc = context.bot_data
    added = await svc.db.add_coordinator(user_id, update.effective_user.id, svc.clock())
    await update.effective_message.reply_text(
        f"{user_id} er nu koordinator." if added else f"{user_id} var allerede koordinator."
    )


@coordinator_only
async def remove_coordinator(update: Update, context: Context) -> None:
    user_id = _user_id(context)
    if user_id is None:
        await update.effective_message.reply_text("Skriv brugerens Telegram-id som et tal, fx /koordinator_fjern 123456789")
        return
    svc = context.bot_data
    if user_id in svc.config.bot_coordinators:
        await update.effective_message.reply_text(
            f"{user_id} står i konfigurationen (BOT_COORDINATORS) og kan kun fjernes dér."
        )
        return
    removed = await svc.db.remove_coordinator(user_id)
    await update.effective_message.reply_text(
        f"{user_id} er ikke længere koordinator." if removed else f"{user_id} var ikke koordinator."
    )


@coordinator_only
async def list_coordinators(update: Update, context: Context) -> None:
    svc = context.bot_data
    configured = sorted(svc.config.bot_coordinators)
    added = sorted(await svc.db.coordinators() - set(configured))
    lines = ["<b>Koordinatorer</b>",
             "Fra konfigurationen: " + (", ".join(map(str, configured)) or "ingen"),
             "Tilføjet i botten: " + (", ".join(map(str, added)) or "ingen")]
    await update.effective_message.reply_text("\n".join(lines))
