"""Privacy for members: what is stored (/privatliv), their own data (/mine_data), deleting it
(/slet_mine_data, after a confirm button), and the daily retention job."""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes

from bot.telegram.render import callback
from bot.telegram.services import Context, Services

log = logging.getLogger(__name__)
RETENTION_JOB = "retention"

PRIVACY = (
    "<b>Hvad jeg gemmer, og hvorfor</b>\n\n"
    "• <b>Dine spørgsmål</b>: jeg tæller, hvilke svar der bruges, uden at gemme hvem du er "
    "eller hvad du skrev. Kun spørgsmål, jeg <i>ikke</i> kunne svare på, gemmes som tekst – "
    "uden navn og bruger-id – så foreningen kan se, hvad der mangler. De slettes efter {days} dage. "
    "Skriver du noget, der tyder på fare for liv, gemmes teksten aldrig.\n"
    "• <b>👍/👎</b>: gemmes med en krypteret nøgle, så du kun har én stemme pr. svar.\n"
    "• <b>Dagens budskab</b>: hvis du abonnerer, gemmes din chat og dit valg af emne, og hvilke "
    "budskaber du har fået, så intet gentages.\n"
    "• <b>Quiz</b>: dine runder, svar og hvilke spørgsmål der skal repeteres; i en fælles quiz "
    "også dit fornavn til resultatlisten.\n\n"
    "Se alt om dig med /mine_data, og slet det hele med /slet_mine_data."
)


async def privacy_command(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(PRIVACY.format(days=context.bot_data.config.bot_retention_days))


async def my_data_command(update: Update, context: Context) -> None:
    data = await context.bot_data.db.data_about(update.effective_user.id, update.effective_chat.id)
    names = ", ".join(escape(n) for n in data["group_quiz_names"]) or "intet"  # type: ignore[attr-defined]
    lines = [
        "<b>Det gemmer jeg om dig</b>",
        f"• Dagens budskab: {'tilmeldt (' + escape(str(data['subscription'])) + ')' if data['subscription'] else 'ikke tilmeldt'}"
        f", {data['points_received']} budskaber modtaget",
        f"• Quiz: {data['quiz_rounds']} runder, {data['quiz_answers']} svar, "
        f"{data['quiz_repetition']} spørgsmål til repetition",
        f"• Navn i fælles quizzer: {names}",
        f"• 👍/👎: {data['votes']} stemmer",
        f"• Koordinator: {'ja' if data['coordinator'] else 'nej'}",
        "",
        "Dine spørgsmål er ikke gemt med dit navn eller id. Slet alt ovenfor med /slet_mine_data.",
    ]
    await update.effective_message.reply_text("\n".join(lines))


async def delete_command(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(
        "Vil du slette alt, hvad jeg har gemt om dig – abonnement, quizresultater og stemmer? "
        "Det kan ikke fortrydes.",
        reply_markup=InlineKeyboardMarkup([[
            InlineKeyboardButton("Ja, slet mine data", callback_data=callback("del", "ok")),
            InlineKeyboardButton("Nej", callback_data=callback("del", "no")),
        ]]))


async def on_delete_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query.message is None or query.data not in ("del|ok", "del|no"):
        await query.answer("Den knap virker ikke længere.")
        return
    if query.data == "del|no":
        await query.answer("Intet er slettet")
        await query.edit_message_text("Intet er slettet.")
        return
    # The member who taps decides about their own data only (in a group: not the group's).
    rows = await context.bot_data.db.delete_member(query.from_user.id, query.from_user.id)
    await query.answer("Slettet")
    await query.edit_message_text(f"Dine data er slettet ({rows} rækker).")


async def retention_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc: Services = context.application.bot_data
    before = svc.clock() - timedelta(days=svc.config.bot_retention_days)
    deleted = await svc.db.forget_old_questions(before)
    await svc.db.forget_seen_updates(svc.clock() - timedelta(days=2))
    if deleted:
        log.info("retention: deleted %d stored question texts", deleted)


def schedule_retention(app: Application) -> None:  # type: ignore[type-arg]
    if app.job_queue is not None:
        app.job_queue.run_repeating(retention_job, interval=timedelta(days=1), first=timedelta(seconds=30),
                                    name=RETENTION_JOB)
