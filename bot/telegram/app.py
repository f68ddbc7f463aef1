"""Build the Application: settings, handlers (order commented), error handler, storage life cycle."""

from __future__ import annotations

import logging

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ApplicationHandlerStop,
    InlineQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import ConfigError, Settings, load_settings
from bot.engine import Engine
from bot.knowledge import Knowledge, KnowledgeError, load_knowledge
from bot.storage import Storage
from bot.telegram import campaign, coordinators, members, privacy, quiz, reload
from bot.telegram.aiohttp_request import AiohttpRequest
from bot.telegram.services import Context, Services

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "Hvad botten kan"),
    BotCommand("spoerg", "Stil et spørgsmål (også i grupper)"),
    BotCommand("emner", "Se emnerne"),
    BotCommand("om", "Dokumenterne bag svarene"),
    BotCommand("abonner", "Få dagens budskab under kampagnen"),
    BotCommand("afmeld", "Stop dagens budskab"),
    BotCommand("quiz", "Træn med en quiz (10 spørgsmål)"),
    BotCommand("quiz_status", "Din fremgang i quizzen"),
    BotCommand("hjaelp", "Sådan bruger du botten"),
    BotCommand("privatliv", "Hvad botten gemmer"),
    BotCommand("mine_data", "Se dine data"),
    BotCommand("slet_mine_data", "Slet dine data"),
]


# Libraries that log message text, user data or the token (in request URLs) below these
# levels: python-telegram-bot logs API parameters at DEBUG, httpx full URLs at INFO,
# aiosqlite SQL parameters at DEBUG. They stay at these levels whatever the bot's own level.
QUIET = {"telegram": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING,
         "aiosqlite": logging.INFO, "aiohttp": logging.WARNING, "apscheduler": logging.INFO}


def quiet_libraries() -> None:
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    quiet_libraries()


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    svc: Services = app.bot_data
    svc.storage = await Storage.open(svc.config.bot_db)
    await app.bot.set_my_commands(COMMANDS)
    await campaign.on_start(app)
    privacy.schedule_retention(app)
    reload.install_sighup(app)
    if svc.serve_health:
        await start_health_server(app, svc.config)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    svc: Services = app.bot_data
    if svc.health_runner is not None:
        await svc.health_runner.cleanup()
        svc.health_runner = None
    if svc.storage is not None:
        await svc.storage.close()
        svc.storage = None


async def _once(update: Update, context: Context) -> None:
    svc: Services = context.bot_data
    try:
        first = await svc.db.first_time(update.update_id, svc.clock())
    except Exception:  # storage trouble must not stop a crisis reply: let it through
        log.warning("could not record update id", exc_info=True)
        return
    if not first:
        raise ApplicationHandlerStop


async def _on_error(update: object, context: Context) -> None:
    # Only the kind of error and the update id: never message text or user data.
    update_id = update.update_id if isinstance(update, Update) else None
    err = context.error
    log.error("error while handling update %s: %s", update_id, type(err).__name__,
              exc_info=(type(err), err, err.__traceback__) if err else None)


def build_application(settings: Settings, knowledge: Knowledge, *, request: BaseRequest | None = None,
                      health: bool = False) -> Application:  # type: ignore[type-arg]
    if not settings.token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    quiet_libraries()
    builder = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.telegram_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .context_types(ContextTypes(bot_data=Services))
        # Handle up to 64 updates at once: members wait on Telegram and SQLite, not on each
        # other. Every write is its own transaction (bot/storage.py), so this is safe; the
        # duplicate check (group -1) runs before any handler of an update.
        .concurrent_updates(64)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:  # tests: a request double instead of the network
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(connections=1))
    app = builder.build()
    svc: Services = app.bot_data
    svc.settings = settings
    svc.engine = Engine(knowledge)
    svc.serve_health = health

    # Group -1 runs first: an update delivered twice (a webhook retry) is handled once.
    app.add_handler(TypeHandler(Update, _once), group=-1)
    # Order matters within a group: the first matching handler wins.
    # 1. Commands (in any chat; in groups also as /cmd@botname).
    app.add_handler(CommandHandler("start", members.start))
    app.add_handler(CommandHandler(["hjaelp", "help"], members.help_command))
    app.add_handler(CommandHandler("emner", members.topics_command))
    app.add_handler(CommandHandler("om", members.about_command))
    app.add_handler(CommandHandler("spoerg", members.ask_command))
    app.add_handler(CommandHandler("privatliv", privacy.privacy_command))
    app.add_handler(CommandHandler("mine_data", privacy.my_data_command))
    app.add_handler(CommandHandler("slet_mine_data", privacy.delete_command))
    app.add_handler(CommandHandler("ubesvarede", coordinators.unanswered))
    app.add_handler(CommandHandler("statistik", coordinators.statistics))
    app.add_handler(CommandHandler("koordinator_tilfoej", coordinators.add_coordinator))
    app.add_handler(CommandHandler("koordinator_fjern", coordinators.remove_coordinator))
    app.add_handler(CommandHandler("koordinatorer", coordinators.list_coordinators))
    app.add_handler(CommandHandler("genindlaes", reload.reload_command))
    app.add_handler(CommandHandler("abonner", campaign.subscribe_command))
    app.add_handler(CommandHandler("afmeld", campaign.unsubscribe_command))
    app.add_handler(CommandHandler("dagens", campaign.today_command))
    app.add_handler(CommandHandler("send_nu", campaign.send_now_command))
    app.add_handler(CommandHandler("tidspunkt", campaign.time_command))
    app.add_handler(CommandHandler("pause", campaign.pause_command))
    app.add_handler(CommandHandler("genoptag", campaign.resume_command))
    app.add_handler(CommandHandler("nytpunkt", campaign.new_point_command))
    app.add_handler(CommandHandler("punkter", campaign.queue_command))
    app.add_handler(CommandHandler("spring", campaign.skip_command))
    app.add_handler(CommandHandler("udsendelser", campaign.broadcasts_command))
    app.add_handler(CommandHandler("quiz", quiz.quiz_command))
    app.add_handler(CommandHandler("quiz_status", quiz.status_command))
    app.add_handler(CommandHandler("gruppequiz", quiz.group_quiz_command))
    app.add_handler(CommandHandler("quizstat", quiz.team_stats_command))
    # 2. Buttons under the bot's messages, by the first field of their callback data:
    #    quiz rounds (qa/qn/qr/qs), group quizzes (gq/ge, coordinators only), the rest.
    app.add_handler(CallbackQueryHandler(quiz.on_quiz_button, pattern=r"^q[anrs]\|"))
    app.add_handler(CallbackQueryHandler(quiz.on_group_button, pattern=r"^g[qe]\|"))
    app.add_handler(CallbackQueryHandler(campaign.on_subscribe_button, pattern=r"^sub\|"))
    app.add_handler(CallbackQueryHandler(campaign.on_new_point_button, pattern=r"^np\|"))
    app.add_handler(CallbackQueryHandler(privacy.on_delete_button, pattern=r"^del\|"))
    app.add_handler(CallbackQueryHandler(members.on_button))
    app.add_handler(PollAnswerHandler(quiz.on_poll_answer))
    app.add_handler(InlineQueryHandler(campaign.inline_query))
    # 3. Plain text: every message in a private chat is a question; in groups only
    #    mentions and replies to the bot are (the handler checks which).
    text = filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & text, members.private_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & text, members.group_text))
    app.add_error_handler(_on_error)
    return app


def deliver_once() -> int:
    """`python -m bot deliver`: finish what the outbox holds, then exit (for operators and
    the crash tests). Rows a killed process left in 'sending' become 'uncertain' first."""
    import asyncio

    configure_logging()
    settings = load_settings()
    knowledge = load_knowledge()
    app = build_application(settings, knowledge)

    async def run() -> int:
        await app.initialize()
        svc: Services = app.bot_data
        svc.storage = await Storage.open(settings.bot_db)
        try:
            await campaign.deliverer(app, svc).recover()
            await campaign.deliver_pending(app)
            pending = await svc.storage.pending_outbox(limit=1)
            return 1 if pending else 0
        finally:
            await svc.storage.close()
            svc.storage = None
            await app.shutdown()

    return asyncio.run(run())


WEBHOOK_PATH = "telegram"


async def start_health_server(app: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """GET /health on BOT_HEALTH_PORT for the load balancer (python-telegram-bot's webhook
    server has no such route, so it gets a tiny aiohttp server of its own)."""
    from aiohttp import web

    async def health(_: web.Request) -> web.Response:
        svc: Services = app.bot_data
        ok = svc.storage is not None
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    web_app = web.Application()
    web_app.router.add_get("/health", health)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.bot_webhook_listen, settings.bot_health_port).start()
    app.bot_data.health_runner = runner


def run_webhook() -> int:
    """Webhook mode on python-telegram-bot's webhook server, with Telegram's secret token:
    a request without the right X-Telegram-Bot-Api-Secret-Token gets 403 and is never
    processed."""
    loaded = _configured()
    if isinstance(loaded, int):
        return loaded
    settings, knowledge = loaded
    if not settings.token or not settings.bot_webhook_url or settings.bot_webhook_secret is None:
        print("Webhook kræver TELEGRAM_BOT_TOKEN, BOT_WEBHOOK_URL og BOT_WEBHOOK_SECRET (se deploy/README.md).")
        return 2
    app = build_application(settings, knowledge, health=True)
    log.info("webhook server on %s:%d, health on port %d", settings.bot_webhook_listen,
             settings.bot_webhook_port, settings.bot_health_port)
    app.run_webhook(listen=settings.bot_webhook_listen, port=settings.bot_webhook_port, url_path=WEBHOOK_PATH,
                    webhook_url=settings.bot_webhook_url,
                    secret_token=settings.bot_webhook_secret.get_secret_value(),
                    allowed_updates=Update.ALL_TYPES)
    return 0


def _configured() -> tuple[Settings, Knowledge] | int:
    """Logging set up, settings and knowledge loaded; or the exit code after printing why not."""
    configure_logging()
    try:
        return load_settings(), load_knowledge()
    except ConfigError as exc:
        for line in exc.lines:
            print(line)
        return 2
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem)
        return 1


def run_polling() -> int:
    loaded = _configured()
    if isinstance(loaded, int):
        return loaded
    settings, knowledge = loaded
    if not settings.token:
        print("TELEGRAM_BOT_TOKEN er ikke sat (se README.md).")
        return 2
    app = build_application(settings, knowledge)
    log.info("bot starting: %d entries, database %s", len(knowledge.entries), settings.bot_db)
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
