"""Daily talking points on Telegram: subscribing, the daily job, delivery, coordinator
commands and inline sharing. The rules live in bot/talking_points.py, bot/campaign.py and
bot/delivery.py."""

from __future__ import annotations

import asyncio
import logging
import secrets
import warnings
from html import escape
from uuid import uuid4

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram import error as tg
from telegram.ext import Application, ContextTypes

from bot.campaign import Campaign
from bot.delivery import (
    Blocked,
    ChatMigrated,
    Deliverer,
    RateLimiter,
    Rejected,
    RetryAfter,
    ServerError,
    TimedOut,
)
from bot.talking_points import SUBSCRIBER_THEMES, Point, check_custom_text, parse_time
from bot.telegram.coordinators import coordinator_only
from bot.telegram.render import callback, short, split_message
from bot.telegram.services import Context, Services

log = logging.getLogger(__name__)
DAILY_JOB = "daily-talking-point"
INLINE_RESULTS = 10


# -- rendering -------------------------------------------------------------------------------

def point_html(point: Point) -> str:
    return "💬 " + escape(point.text)


def point_keyboard(point: Point) -> InlineKeyboardMarkup | None:
    if not point.entry_id:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton("Fortæl mig mere", callback_data=callback("a", point.entry_id))]])


def campaign(svc: Services) -> Campaign:
    if svc.campaign is None:
        svc.campaign = Campaign(svc.core.knowledge, svc.db, svc.clock, svc.config.tz)
    return svc.campaign


# -- delivery ----------------------------------------------------------------------------------

def make_sender(app: Application, svc: Services):  # type: ignore[no-untyped-def,type-arg]
    points: dict[str, Point] = {}

    async def send(chat_id: int, point_id: str) -> None:
        if point_id not in points:
            points.update(await campaign(svc).points())
        point = points.get(point_id)
        if point is None:
            raise Rejected(f"unknown point {point_id}")
        params: dict[str, object] = {"chat_id": chat_id, "text": point_html(point), "parse_mode": "HTML",
                                     "link_preview_options": {"is_disabled": True}}
        keyboard = point_keyboard(point)
        if keyboard is not None:
            params["reply_markup"] = keyboard
        try:
            # The raw call: a broadcast does not need the sent Message parsed back into an
            # object, and skipping that halves the bot's CPU per message.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Please use 'Bot.sendMessage'")
                await app.bot.do_api_request("sendMessage", api_kwargs=params)
        except tg.RetryAfter as exc:
            raise RetryAfter(exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds")
                             else float(exc.retry_after)) from exc
        except tg.ChatMigrated as exc:
            raise ChatMigrated(exc.new_chat_id) from exc
        except tg.Forbidden as exc:
            raise Blocked(exc.message) from exc
        except tg.TimedOut as exc:
            raise TimedOut() from exc
        except tg.BadRequest as exc:
            if "chat not found" in exc.message.casefold():
                raise Blocked(exc.message) from exc
            raise Rejected(exc.message) from exc
        except tg.NetworkError as exc:  # 5xx and connection trouble: worth a retry
            raise ServerError(exc.message) from exc
        except tg.TelegramError as exc:
            raise Rejected(exc.message) from exc

    return send


def deliverer(app: Application, svc: Services) -> Deliverer:  # type: ignore[type-arg]
    if svc.deliverer is None:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(clock=loop.time, sleep=asyncio.sleep, rate=svc.config.bot_broadcast_rate)
        svc.deliverer = Deliverer(svc.db, make_sender(app, svc), limiter, svc.clock, asyncio.sleep)
    return svc.deliverer


async def deliver_pending(app: Application) -> None:  # type: ignore[type-arg]
    svc: Services = app.bot_data
    async with svc.delivery_lock:  # one delivery run at a time
        report = await deliverer(app, svc).run()
    if report.sent or report.failed or report.uncertain:
        log.info("delivery: %d sent, %d failed, %d uncertain", report.sent, report.failed, report.uncertain)


async def _deliver_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await deliver_pending(context.application)


def start_delivery(app: Application) -> None:  # type: ignore[type-arg]
    """Deliver pending rows in the background, as a job: it runs once the app is running."""
    if app.job_queue is not None:
        app.job_queue.run_once(_deliver_job, when=0, name="deliver-talking-points")


async def daily_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app = context.application
    svc: Services = app.bot_data
    try:
        if not await campaign(svc).paused():
            if await campaign(svc).broadcast("daily") is not None:
                await deliver_pending(app)
    finally:
        await schedule_daily(app)


async def schedule_daily(app: Application) -> None:  # type: ignore[type-arg]
    """(Re)create the one daily job from the time stored in SQLite: JobQueue keeps no jobs."""
    svc: Services = app.bot_data
    if app.job_queue is None:
        return
    for job in app.job_queue.get_jobs_by_name(DAILY_JOB):
        job.schedule_removal()
    when = await campaign(svc).next_run()
    app.job_queue.run_once(daily_job, when=when, name=DAILY_JOB)


async def on_start(app: Application) -> None:  # type: ignore[type-arg]
    """At every start: mark interrupted sends uncertain, finish pending ones, catch up a
    missed daily send (once, the same day only), schedule the next."""
    svc: Services = app.bot_data
    await deliverer(app, svc).recover()
    if svc.config.bot_channel_id is not None:
        await svc.db.subscribe(svc.config.bot_channel_id, "alle", svc.clock())
    if await campaign(svc).missed_daily():
        await campaign(svc).broadcast("daily")
    start_delivery(app)
    await schedule_daily(app)


# -- members -----------------------------------------------------------------------------------

def themes_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(title, callback_data=callback("sub", key))]
                                 for key, title in SUBSCRIBER_THEMES.items()])


async def subscribe_command(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(
        "Få et kort, kildebelagt budskab hver dag under kampagnen – til samtaler og sociale medier. "
        "Hvilke budskaber vil du have?", reply_markup=themes_keyboard())


async def unsubscribe_command(update: Update, context: Context) -> None:
    removed = await context.bot_data.db.unsubscribe(update.effective_chat.id)
    await update.effective_message.reply_text(
        "Du er afmeldt dagens budskab. Du kan altid tilmelde dig igen med /abonner." if removed
        else "Du er ikke tilmeldt dagens budskab. Tilmeld dig med /abonner.")


async def on_subscribe_button(update: Update, context: Context) -> None:
    query = update.callback_query
    theme = (query.data or "").split("|", 1)[-1]
    if theme not in SUBSCRIBER_THEMES or query.message is None:
        await query.answer("Den knap virker ikke længere.")
        return
    svc = context.bot_data
    await svc.db.subscribe(query.message.chat.id, theme, svc.clock())
    at = (await campaign(svc).daily_time()).strftime("%H:%M")
    await query.answer("Du er tilmeldt!")
    await query.edit_message_text(
        f"✅ Du er tilmeldt: <b>{escape(SUBSCRIBER_THEMES[theme])}</b>. Du får et budskab hver dag "
        f"kl. {at}. Afmeld når som helst med /afmeld.")


# -- coordinators ------------------------------------------------------------------------------

@coordinator_only
async def today_command(update: Update, context: Context) -> None:
    point = await campaign(context.bot_data).next_point()
    if point is None:
        await update.effective_message.reply_text("Der er ingen budskaber i køen.")
        return
    paused = " (udsendelser er sat på pause)" if await campaign(context.bot_data).paused() else ""
    await update.effective_message.reply_text(f"Næste budskab{paused}, som medlemmerne vil se det:")
    await update.effective_message.reply_text(point_html(point), reply_markup=point_keyboard(point))


@coordinator_only
async def send_now_command(update: Update, context: Context) -> None:
    svc = context.bot_data
    broadcast_id = await campaign(svc).broadcast("manual")
    subscribers = await svc.db.subscriber_count()
    await update.effective_message.reply_text(
        f"Udsendelse {broadcast_id} er startet til {subscribers} abonnenter. Se status med /udsendelser.")
    start_delivery(context.application)


@coordinator_only
async def time_command(update: Update, context: Context) -> None:
    svc = context.bot_data
    at = parse_time(" ".join(context.args or []))
    if at is None:
        current = (await campaign(svc).daily_time()).strftime("%H:%M")
        await update.effective_message.reply_text(
            f"Skriv tidspunktet som TT:MM, fx /tidspunkt 09:00 (nu: {current}).")
        return
    await campaign(svc).set_daily_time(at)
    await schedule_daily(context.application)
    await update.effective_message.reply_text(
        f"Dagens budskab sendes nu hver dag kl. {at.strftime('%H:%M')} ({svc.config.bot_timezone}).")


@coordinator_only
async def pause_command(update: Update, context: Context) -> None:
    await campaign(context.bot_data).set_paused(True)
    await update.effective_message.reply_text("Daglige udsendelser er sat på pause. Genoptag med /genoptag.")


@coordinator_only
async def resume_command(update: Update, context: Context) -> None:
    await campaign(context.bot_data).set_paused(False)
    await update.effective_message.reply_text("Daglige udsendelser er genoptaget.")


@coordinator_only
async def new_point_command(update: Update, context: Context) -> None:
    svc = context.bot_data
    message = update.effective_message
    text = (message.text or "").partition(" ")[2].strip()
    problem = check_custom_text(text)
    if problem:
        await message.reply_text(f"{problem}\nSkriv fx: /nytpunkt &lt;dit budskab&gt;")
        return
    key = secrets.token_hex(4)
    await svc.db.set_meta(f"draft:{update.effective_user.id}:{key}", text)
    await message.reply_text(
        "Sådan ser budskabet ud for medlemmerne. Skal det i køen som det næste?\n\n"
        + escape(text), reply_markup=InlineKeyboardMarkup([[
            InlineKeyboardButton("Ja, sæt i kø", callback_data=callback("np", "ok", key)),
            InlineKeyboardButton("Annuller", callback_data=callback("np", "no", key)),
        ]]))


@coordinator_only
async def on_new_point_button(update: Update, context: Context) -> None:
    query = update.callback_query
    svc = context.bot_data
    parts = (query.data or "").split("|")
    if len(parts) != 3 or parts[1] not in ("ok", "no"):
        await query.answer("Den knap virker ikke længere.")
        return
    meta_key = f"draft:{query.from_user.id}:{parts[2]}"
    text = await svc.db.get_meta(meta_key)
    if not text or not await svc.db.delete_meta(meta_key):  # a draft is used once
        await query.answer("Det udkast findes ikke længere.")
        return
    if parts[1] == "no":
        await query.answer("Annulleret")
        await query.edit_message_text("Budskabet blev ikke sat i kø.")
        return
    await svc.db.add_custom_point(text, query.from_user.id, svc.clock())
    await query.answer("Sat i kø")
    await query.edit_message_text("✅ Budskabet er sat i kø som det næste.\n\n" + escape(text))


@coordinator_only
async def queue_command(update: Update, context: Context) -> None:
    c = campaign(context.bot_data)
    points = await c.points()
    queue = await c.queue()
    lines = [f"<b>Køen</b> ({len(queue)} budskaber, det næste først):"]
    for i, pid in enumerate(queue[:25], 1):
        first = points[pid].text.split("\n")[0]
        lines.append(f"{i}. {escape(short(first, 90))}")
    if len(queue) > 25:
        lines.append(f"… og {len(queue) - 25} mere.")
    for part in split_message("\n".join(lines)):
        await update.effective_message.reply_text(part)


@coordinator_only
async def skip_command(update: Update, context: Context) -> None:
    point = await campaign(context.bot_data).skip()
    await update.effective_message.reply_text("Sprunget over. Næste budskab er nu:")
    if point is not None:
        await update.effective_message.reply_text(point_html(point), reply_markup=point_keyboard(point))


@coordinator_only
async def broadcasts_command(update: Update, context: Context) -> None:
    rows = await context.bot_data.db.recent_broadcasts()
    if not rows:
        await update.effective_message.reply_text("Der er ikke sendt noget endnu.")
        return
    lines = ["<b>Seneste udsendelser</b> (sendt / fejlet / usikker / venter):"]
    for bid, kind, day, created, counts in rows:
        label = f"dagligt {day}" if kind == "daily" else f"manuelt {created[:16].replace('T', ' ')}"
        lines.append(f"#{bid} {label}: {counts.get('sent', 0)} / {counts.get('failed', 0)} / "
                     f"{counts.get('uncertain', 0)} / {counts.get('pending', 0) + counts.get('sending', 0)}")
    await update.effective_message.reply_text("\n".join(lines))


# -- inline mode -------------------------------------------------------------------------------

async def inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    svc = context.bot_data
    points = await campaign(svc).points()
    by_entry: dict[str, list[Point]] = {}
    for p in points.values():
        if p.entry_id:
            by_entry.setdefault(p.entry_id, []).append(p)
    text = (query.query or "").strip()
    results = []
    if text:
        for hit in svc.core.search(text, limit=INLINE_RESULTS)[0]:
            entry = svc.core.knowledge.by_id.get(hit.key)
            if entry is None:
                continue
            for p in by_entry.get(entry.id, []):
                results.append(_point_result(p, entry.title))
            answer = svc.core.entry_reply(entry)
            card = f"<b>{escape(entry.title)}</b>\n\n{escape(entry.answer)}\n\n<i>Kilde: {escape(answer.source or '')}</i>"
            if entry.links:
                card += f"\n{escape(entry.links[0].url)}"
            results.append(InlineQueryResultArticle(
                id=uuid4().hex, title=entry.title, description=short(entry.answer, 100),
                input_message_content=InputTextMessageContent(card[:4096]),
            ))
    else:
        queue = await campaign(svc).queue()
        results = [_point_result(points[p], "Budskab") for p in queue[:INLINE_RESULTS]]
    await query.answer(results[:50], cache_time=60)


def _point_result(point: Point, title: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=uuid4().hex[:32], title=f"💬 {short(title, 50)}", description=short(point.text.split(chr(10))[0], 100),
        input_message_content=InputTextMessageContent(point_html(point)),
    )
