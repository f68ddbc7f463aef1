"""Quiz handlers: private rounds with buttons, group quizzes as Telegram quiz polls, status
and team statistics. The quiz logic itself is in bot/quiz.py and bot/quiz_session.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, PollType

from bot.quiz import Theme, duration_text, find_theme
from bot.quiz_session import Graded, QuizService, Shown
from bot.telegram.coordinators import coordinator_only
from bot.telegram.members import STALE_BUTTON
from bot.telegram.render import callback, short, split_message
from bot.telegram.services import Context

log = logging.getLogger(__name__)

FOREIGN = "Det er en andens quiz – start din egen med /quiz."
STALE = "Det spørgsmål er afsluttet. Start en ny runde med /quiz."
MAX_READ_UP = 5


def quiz_service(context: Context) -> QuizService:
    svc = context.bot_data
    if svc.quiz is None:
        svc.quiz = QuizService(svc.core.knowledge, svc.db, svc.clock)
    return svc.quiz


def question_view(shown: Shown) -> tuple[str, InlineKeyboardMarkup]:
    text = f"<b>Spørgsmål {shown.position + 1}/{shown.total}</b>\n\n{escape(shown.question.text)}"
    rows = [[InlineKeyboardButton(short(f"{chr(65 + i)}. {option}"),
                                  callback_data=callback("qa", shown.round_id, shown.position, i))]
            for i, option in enumerate(shown.options)]
    return text, InlineKeyboardMarkup(rows)


def graded_view(graded: Graded, round_id: int, position: int) -> tuple[str, InlineKeyboardMarkup]:
    q = graded.question
    verdict = "✅ <b>Rigtigt!</b>" if graded.right else (
        f"❌ <b>Forkert.</b> Du svarede: {escape(graded.chosen_text)}")
    lines = [f"{escape(q.text)}", "", verdict, f"Det rigtige svar: <b>{escape(graded.right_text)}</b>",
             "", escape(q.explanation), f"<i>Kilde: {escape(q.source)}</i>"]
    rows = []
    if q.link:
        rows.append([InlineKeyboardButton("Læs mere", url=q.link)])
    if graded.finished:
        rows.append([InlineKeyboardButton("Se resultatet", callback_data=callback("qr", round_id))])
    else:
        rows.append([InlineKeyboardButton("Næste ▶", callback_data=callback("qn", round_id, position + 1))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def theme_keyboard(service: QuizService) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(short(t.title), callback_data=callback("qs", t.id))]
                                 for t in service.themes.values()])


async def _send_question(message: Message, shown: Shown) -> None:
    text, keyboard = question_view(shown)
    await message.reply_text(text, reply_markup=keyboard)


async def _start(message: Message, context: Context, user_id: int, theme: Theme) -> None:
    service = quiz_service(context)
    shown = await service.start(user_id, message.chat.id, theme)
    if shown is None:
        await message.reply_text(f"Der er ingen spørgsmål i emnet {escape(theme.title)} endnu.")
        return
    await message.reply_text(f"🧠 <b>Quiz: {escape(theme.title)}</b> – {shown.total} spørgsmål. "
                             "Tryk på det svar, du tror er rigtigt.")
    await _send_question(message, shown)


GROUP_HINT = ("Quizzen tages i en privat chat med mig. Koordinatorer kan starte en fælles quiz "
              "i gruppen med /gruppequiz.")


async def quiz_command(update: Update, context: Context) -> None:
    message = update.effective_message
    service = quiz_service(context)
    text = " ".join(context.args or []).strip()
    if update.effective_chat and update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(GROUP_HINT)
        return
    if not text:
        await _start(message, context, update.effective_user.id, service.themes["alle"])
        return
    theme = find_theme(service.knowledge, text)
    if theme is None:
        await message.reply_text(f"Jeg kender ikke emnet »{escape(text)}«. Vælg et emne:",
                                 reply_markup=theme_keyboard(service))
        return
    await _start(message, context, update.effective_user.id, theme)


async def start_from_intent(message: Message, context: Context, user_id: int) -> None:
    """"jeg vil quizze": in a private chat the same as /quiz."""
    if message.chat.type != ChatType.PRIVATE:
        await message.reply_text(GROUP_HINT)
        return
    await _start(message, context, user_id, quiz_service(context).themes["alle"])


async def status_command(update: Update, context: Context) -> None:
    progress = await quiz_service(context).progress(update.effective_user.id)
    if not any(p.answered for p in progress):
        await update.effective_message.reply_text("Du har ikke taget en quiz endnu. Start med /quiz.")
        return
    lines = ["<b>Din quiz-status</b>", ""]
    for p in progress:
        if not p.answered and not p.due:
            continue
        extra = []
        if p.due:
            extra.append(f"{p.due} til repetition nu")
        if p.waiting:
            extra.append(f"{p.waiting} venter")
        tail = f" – {', '.join(extra)}" if extra else ""
        lines.append(f"• {escape(p.title)}: {p.answered}/{p.questions} set, {p.right_share:.0%} rigtige{tail}")
    await update.effective_message.reply_text("\n".join(lines))


async def on_quiz_button(update: Update, context: Context) -> None:
    query = update.callback_query
    message = query.message if isinstance(query.message, Message) else None
    action, *args = (query.data or "").split("|")
    service = quiz_service(context)
    if message is None or action not in ("qs", "qa", "qn", "qr") or not all(a.replace("-", "").isalnum() for a in args):
        # PTB hands callbacks without data to the first pattern handler: answer them neutrally
        await query.answer(STALE_BUTTON)
        return
    if action == "qs" and len(args) == 1 and args[0] in service.themes:
        await query.answer()
        await _start(message, context, query.from_user.id, service.themes[args[0]])
    elif action == "qa" and len(args) == 3 and all(a.isdigit() for a in args):
        result = await service.answer(int(args[0]), int(args[1]), query.from_user.id, int(args[2]))
        if isinstance(result, str):
            await query.answer(FOREIGN if result == "foreign" else STALE, show_alert=result == "foreign")
            return
        await query.answer("Rigtigt!" if result.right else "Forkert")
        text, keyboard = graded_view(result, int(args[0]), int(args[1]))
        await message.edit_text(text, reply_markup=keyboard)
    elif action == "qn" and len(args) == 2 and all(a.isdigit() for a in args):
        rnd = await service.storage.quiz_round(int(args[0]))
        if rnd is None or rnd.user_id != query.from_user.id:
            await query.answer(FOREIGN if rnd else STALE)
            return
        shown = service.show(rnd, int(args[1])) if rnd.state == "active" and rnd.position == int(args[1]) else None
        if shown is None:
            await query.answer(STALE)
            return
        await query.answer()
        await _send_question(message, shown)
    elif action == "qr" and len(args) == 1 and args[0].isdigit():
        rnd = await service.storage.quiz_round(int(args[0]))
        if rnd is None or rnd.user_id != query.from_user.id or rnd.state != "done":
            await query.answer(FOREIGN if rnd and rnd.user_id != query.from_user.id else STALE)
            return
        await query.answer()
        await _send_result(message, context, rnd.id, rnd.theme)
    else:
        await query.answer(STALE)


async def _send_result(message: Message, context: Context, round_id: int, theme_id: str) -> None:
    service = quiz_service(context)
    result = await service.result(round_id)
    lines = [f"🏁 <b>Du fik {result.score} af {result.total} rigtige</b> på {duration_text(result.seconds)}.",
             result.comparison()]
    rows = []
    if result.missed:
        lines.append("\nLæs op på:")
        knowledge = service.knowledge
        for entry_id in result.missed[:MAX_READ_UP]:
            if entry_id in knowledge.by_id:
                rows.append([InlineKeyboardButton(short(knowledge.by_id[entry_id].title),
                                                  callback_data=callback("a", entry_id))])
        lines.append("Spørgsmål, du svarede forkert på, kommer igen i senere runder, til du har "
                     "svaret rigtigt på dem to gange i træk.")
    if theme_id in service.themes:
        rows.append([InlineKeyboardButton("Ny runde", callback_data=callback("qs", theme_id))])
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


# -- group quizzes -------------------------------------------------------------------------

@coordinator_only
async def group_quiz_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if update.effective_chat is None or update.effective_chat.type == ChatType.PRIVATE:
        await message.reply_text("/gruppequiz startes i en træningsgruppe, hvor jeg er medlem.")
        return
    service = quiz_service(context)
    text = " ".join(context.args or []).strip()
    theme = find_theme(service.knowledge, text) if text else service.themes["alle"]
    if theme is None:
        await message.reply_text(f"Jeg kender ikke emnet »{escape(text)}«.")
        return
    rnd = await service.start_group(update.effective_user.id, message.chat.id, theme)
    if rnd is None:
        await message.reply_text("Der er ingen spørgsmål i det emne endnu.")
        return
    await message.reply_text(f"🧠 <b>Fælles quiz: {escape(theme.title)}</b> – {len(rnd.asked)} spørgsmål. "
                             "Svar i afstemningerne; resultatet kommer til sidst.")
    await _send_poll(message, context, rnd.id, 0)


async def _send_poll(message: Message, context: Context, round_id: int, position: int) -> None:
    service = quiz_service(context)
    rnd = await service.storage.quiz_round(round_id)
    shown = service.show(rnd, position) if rnd else None
    if shown is None:
        return
    right = shown.options.index(shown.question.options[0])
    poll_message = await message.chat.send_poll(
        question=f"{position + 1}/{shown.total}: {shown.question.text}"[:300],
        options=shown.options, type=PollType.QUIZ, is_anonymous=False, correct_option_ids=[right],
        explanation=shown.question.explanation[:200],
        # plain text: the default HTML parse mode would misread "<" or "&" in a question
        question_parse_mode=None, explanation_parse_mode=None,
    )
    await service.storage.save_quiz_poll(poll_message.poll.id, round_id, position, shown.question.id, right)
    last = position + 1 >= shown.total
    buttons = [] if last else [InlineKeyboardButton("Næste spørgsmål ▶", callback_data=callback("gq", round_id, position))]
    buttons.append(InlineKeyboardButton("Afslut og vis resultat", callback_data=callback("ge", round_id)))
    await message.chat.send_message("Koordinator: tryk, når alle har svaret.",
                                    reply_markup=InlineKeyboardMarkup([buttons]))


@coordinator_only
async def on_group_button(update: Update, context: Context) -> None:
    query = update.callback_query
    message = query.message if isinstance(query.message, Message) else None
    action, *args = (query.data or "").split("|")
    service = quiz_service(context)
    if message is None or not args or not all(a.isdigit() for a in args):
        await query.answer(STALE)
        return
    rnd = await service.storage.quiz_round(int(args[0]))
    if rnd is None or rnd.kind != "group" or rnd.state != "active" or rnd.chat_id != message.chat.id:
        await query.answer(STALE)
        return
    if action == "gq" and len(args) == 2:
        if not await service.storage.advance_group_round(rnd.id, int(args[1])):
            await query.answer(STALE)
            return
        await query.answer()
        await message.edit_reply_markup(None)
        await _send_poll(message, context, rnd.id, int(args[1]) + 1)
    elif action == "ge" and len(args) == 1:
        await service.storage.finish_quiz_round(rnd.id, service.clock())
        await query.answer()
        await message.edit_reply_markup(None)
        board = await service.leaderboard(rnd.id)
        lines = ["🏆 <b>Resultat</b>"]
        if not board:
            lines.append("Ingen svarede.")
        for i, (name, right, answered) in enumerate(board, 1):
            lines.append(f"{i}. {escape(name)} – {right} rigtige af {answered} besvarede")
        await message.chat.send_message("\n".join(lines))
    else:
        await query.answer(STALE)


async def on_poll_answer(update: Update, context: Context) -> None:
    answer = update.poll_answer
    if answer is None or answer.user is None or not answer.option_ids:
        return  # a retracted vote or an anonymous one: nothing to count
    await quiz_service(context).record_poll_answer(
        answer.poll_id, answer.user.id, answer.user.first_name or "Ukendt", answer.option_ids[0]
    )


# -- coordinators ----------------------------------------------------------------------------

@coordinator_only
async def team_stats_command(update: Update, context: Context) -> None:
    args = context.args or []
    days = int(args[0]) if len(args) == 1 and args[0].isdigit() and 1 <= int(args[0]) <= 365 else 30
    service = quiz_service(context)
    topics, missed = await service.team_stats(service.clock() - timedelta(days=days))
    if not topics:
        await update.effective_message.reply_text(f"Ingen har taget en quiz de sidste {days} dage.")
        return
    lines = [f"<b>Quiz, sidste {days} dage</b>", "", "<b>Pr. emne</b> (frivillige, svar, rigtige):"]
    for title, people, answers, share in topics:
        lines.append(f"• {escape(title)}: {people}, {answers}, {share:.0%}")
    lines += ["", "<b>Oftest forkert</b> – tag dem op til næste træningsaften:"]
    for q, wrong, total in missed:
        lines.append(f"• {wrong} af {total} forkert: {escape(q.text)}")
    from bot.charts import quiz_png

    png = quiz_png(topics)
    await update.effective_message.reply_photo(png)
    for part in split_message("\n".join(lines)):
        await update.effective_message.reply_text(part)
