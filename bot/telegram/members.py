"""Handlers for members: questions, /start, /hjaelp, /emner, /om, /spoerg, buttons, feedback."""

from __future__ import annotations

import logging
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from bot.engine import Reply
from bot.telegram.render import (
    callback,
    parse_callback,
    reply_html,
    reply_keyboard,
    short,
    split_message,
    topic_page,
    topic_rows,
)
from bot.telegram.services import Context, Services

log = logging.getLogger(__name__)

# Three questions /start offers as buttons: a proposal, a concept and a figure.
EXAMPLES = ("regioner-overblik", "oslo-standarden", "region-akut-fakta-genindlaeggelse-26-pct")

WELCOME = (
    "<b>Hej! Jeg er Bedre Psykiatris spørgebot.</b>\n\n"
    "Jeg svarer på spørgsmål om foreningens politiske materiale – de fem mærkesager til "
    "kommunal- og regionalvalget 2025, anbefalingerne til regionerne, Danske Regioners "
    "fokuspunkter og psykiatriaftalen med tiårsplanen. Hvert svar har en kilde og links, "
    "når dokumenterne har dem.\n\n"
    "Jeg giver ikke rådgivning eller behandlingsråd. Er der fare for liv, så ring 112.\n\n"
    "Skriv dit spørgsmål med dine egne ord, eller prøv et af disse:"
)
HELP = (
    "<b>Sådan bruger du mig</b>\n\n"
    "• Skriv et spørgsmål med dine egne ord, fx <i>hvad foreslår I for pårørende i "
    "kommunerne?</i> eller <i>hvor mange bliver genindlagt inden for 30 dage?</i>\n"
    "• /emner – se alt, hvad jeg ved noget om, emne for emne\n"
    "• /om – de dokumenter, mine svar kommer fra\n"
    "• /quiz – træn med 10 spørgsmål (/quiz bosteder for ét emne); /quiz_status viser din fremgang\n"
    "• /spoerg &lt;spørgsmål&gt; – spørg i en gruppe (eller nævn mig / svar på min besked)\n\n"
    "Under et svar kan du trykke 👍 eller 👎, så vi kan gøre svarene bedre. Jeg svarer kun "
    "ud fra materialet og giver ikke rådgivning."
)
STALE_BUTTON = "Den knap virker ikke længere. Skriv dit spørgsmål igen."


def services(context: Context) -> Services:
    return context.bot_data


async def send_reply(message: Message, reply: Reply, answer_id: int | None = None) -> None:
    """Send a reply as one or more messages; the keyboard goes under the last."""
    parts = split_message(reply_html(reply))
    keyboard = reply_keyboard(reply, answer_id)
    for i, part in enumerate(parts):
        await message.reply_text(part, reply_markup=keyboard if i == len(parts) - 1 else None)


async def respond(message: Message, context: Context, text: str) -> None:
    """Answer one question. The crisis reply goes out before storage is touched."""
    svc = services(context)
    reply = svc.core.reply(text)
    if reply.kind == "crisis":
        await send_reply(message, reply)
        await _log(svc, reply, None)  # a crisis message's text is never stored
        return
    if reply.kind == "intent" and reply.action == "quiz" and message.from_user:
        from bot.telegram.quiz import start_from_intent

        await _log(svc, reply, None)
        await start_from_intent(message, context, message.from_user.id)
        return
    if reply.kind == "intent" and reply.action in ("subscribe", "unsubscribe"):
        from bot.telegram.campaign import themes_keyboard

        await _log(svc, reply, None)
        if reply.action == "subscribe":
            await message.reply_text(escape(reply.body), reply_markup=themes_keyboard())
        else:
            removed = await svc.db.unsubscribe(message.chat.id)
            await message.reply_text("Du er afmeldt dagens budskab." if removed
                                     else "Du er ikke tilmeldt dagens budskab.")
        return
    answer_id = None
    if reply.kind == "answer" and reply.entry:
        try:
            answer_id = await svc.db.new_answer(reply.entry, svc.clock())
        except Exception:  # no feedback buttons, but the member still gets the answer
            log.warning("storage unavailable: answer sent without feedback buttons", exc_info=True)
    await send_reply(message, reply, answer_id)
    await _log(svc, reply, text)


async def _log(svc: Services, reply: Reply, text: str | None) -> None:
    try:
        await svc.db.log_question(kind=reply.kind, entry_id=reply.entry if reply.kind == "answer" else None,
                                  score=reply.score, text=text, at=svc.clock())
    except Exception:
        log.warning("storage unavailable: question not counted", exc_info=True)


# -- commands --------------------------------------------------------------------------

async def start(update: Update, context: Context) -> None:
    knowledge = services(context).core.knowledge
    rows = [[InlineKeyboardButton(short(knowledge.by_id[e].title), callback_data=callback("a", e))]
            for e in EXAMPLES if e in knowledge.by_id]
    await update.effective_message.reply_text(WELCOME, reply_markup=InlineKeyboardMarkup(rows))


async def help_command(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(HELP)


async def topics_command(update: Update, context: Context) -> None:
    text, keyboard = _topics_view(context)
    await update.effective_message.reply_text(text, reply_markup=keyboard)


def _topics_view(context: Context) -> tuple[str, InlineKeyboardMarkup]:
    engine = services(context).core
    topics = tuple((t.id, t.title) for t in engine.knowledge.topics.values())
    return "<b>Emner</b>\nVælg et emne:", InlineKeyboardMarkup(topic_rows(topics))


async def about_command(update: Update, context: Context) -> None:
    knowledge = services(context).core.knowledge
    blocks = ["<b>Mine svar kommer fra disse fem dokumenter:</b>"]
    for doc in knowledge.sources.values():
        lines = [f"<b>{escape(doc.title)}</b>", f"{escape(doc.publisher)}, {escape(doc.date)}.",
                 escape(doc.about)]
        lines += [f'<a href="{escape(link.url, quote=True)}">{escape(link.title)}</a>' for link in doc.links]
        blocks.append("\n".join(lines))
    for part in split_message("\n\n".join(blocks)):
        await update.effective_message.reply_text(part)


async def ask_command(update: Update, context: Context) -> None:
    text = " ".join(context.args or []).strip()
    if not text:
        await update.effective_message.reply_text(
            "Skriv dit spørgsmål efter kommandoen, fx <i>/spoerg hvad er Oslo-standarden?</i>"
        )
        return
    await respond(update.effective_message, context, text)


# -- messages --------------------------------------------------------------------------

async def private_text(update: Update, context: Context) -> None:
    message = update.effective_message
    await respond(message, context, message.text or "")


async def group_text(update: Update, context: Context) -> None:
    """In groups: answer only when mentioned or replied to; otherwise stay silent."""
    message = update.effective_message
    bot = context.bot
    text = message.text or ""
    mention = f"@{bot.username}".casefold() if bot.username else None
    mentioned = False
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if (entity.type == MessageEntity.MENTION and mention and value.casefold() == mention) or (
            entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id
        ):
            mentioned = True
            text = text.replace(value, " ")
    replied = bool(message.reply_to_message and message.reply_to_message.from_user
                   and message.reply_to_message.from_user.id == bot.id)
    if not (mentioned or replied):
        return
    if not text.strip():
        await message.reply_text("Ja? Skriv dit spørgsmål, fx <i>hvad er Oslo-standarden?</i>")
        return
    await respond(message, context, text)


# -- buttons ---------------------------------------------------------------------------

async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    svc = services(context)
    data = parse_callback(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if data is None or message is None:
        await query.answer(STALE_BUTTON)
        return
    if data.action == "a" and len(data.args) == 1:
        reply = svc.core.answer_entry(data.args[0])
        if reply is None:
            await query.answer(STALE_BUTTON)
            return
        await query.answer()
        answer_id = None
        try:
            answer_id = await svc.db.new_answer(reply.entry or "", svc.clock())
            await svc.db.log_question(kind="answer", entry_id=reply.entry, score=None, text=None, at=svc.clock())
        except Exception:
            log.warning("storage unavailable: answer sent without feedback buttons", exc_info=True)
        await send_reply(message, reply, answer_id)
    elif data.action == "t" and len(data.args) == 2 and data.args[1].isdigit():
        view = topic_page(svc.core.knowledge, data.args[0], int(data.args[1]))
        if view is None:
            await query.answer(STALE_BUTTON)
            return
        await query.answer()
        await message.edit_text(view[0], reply_markup=view[1])
    elif data.action == "T" and not data.args:
        await query.answer()
        text, keyboard = _topics_view(context)
        await message.edit_text(text, reply_markup=keyboard)
    elif data.action == "v" and len(data.args) == 2 and data.args[0].isdigit() and data.args[1] in ("u", "d"):
        await _vote(query, svc, int(data.args[0]), 1 if data.args[1] == "u" else -1)
    else:
        await query.answer(STALE_BUTTON)


async def _vote(query, svc: Services, answer_id: int, vote: int) -> None:  # type: ignore[no-untyped-def]
    try:
        outcome = await svc.db.vote(answer_id, query.from_user.id, vote, svc.clock())
    except Exception:
        log.warning("storage unavailable: vote not saved", exc_info=True)
        await query.answer("Din stemme kunne ikke gemmes lige nu. Prøv igen senere.")
        return
    await query.answer({
        "new": "Tak for din feedback!",
        "changed": "Din stemme er ændret. Tak!",
        "same": "Du har allerede stemt sådan.",
        "unknown": STALE_BUTTON,
    }[outcome])
