"""Command line: `python -m bot [run|chat|ask|eval|check|calibrate|train-crisis|train-matcher|...]`.

Each subcommand is a few lines calling the core; none of them needs a Telegram token except
`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR, Knowledge, KnowledgeError, load_knowledge


T = TypeVar("T")


def _or_exit(load: Callable[[], T]) -> T:
    """The result of `load`, or the knowledge base's (or a question file's) problems on stderr
    and exit code 1."""
    from bot.evaluate import EvalFileError

    try:
        return load()
    except (KnowledgeError, EvalFileError) as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from None


def _load(fresh_model: bool = True) -> Knowledge:
    return _or_exit(lambda: load_knowledge(fresh_model=fresh_model))


def _engine():  # type: ignore[no-untyped-def]
    from bot.cache import load_engine

    return _or_exit(load_engine)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        knowledge = load_knowledge(Path(args.knowledge), Path(args.intents), current_entry_model=True)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    if Path(args.intents) == INTENTS_DIR and knowledge.entry_model is not None:
        from bot import entry_model as em
        from bot.evaluate import train_members

        members = _or_exit(train_members)
        if members and knowledge.entry_model.members_sha256 != em.members_hash(members):
            print(f"{INTENTS_DIR / em.MODEL_FILE}:1: the entry model did not learn the evaluation set's "
                  "train split as it is now; run `python -m bot train-matcher`")
            print("1 problem(s) found", file=sys.stderr)
            return 1
    from bot.quiz import build_bank

    bank = build_bank(knowledge)
    generated = sum(1 for q in bank if q.id.endswith("#tal"))
    print(f"quiz: {len(bank)} questions ({len(bank) - generated} authored, {generated} from facts)")
    print(knowledge.stats_line())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.render import to_json_line, to_text

    engine = _engine()
    question = " ".join(args.question)
    if question == "-":
        for line in sys.stdin:
            line = line.rstrip("\n")
            reply = engine.reply(line)
            print(to_json_line(reply) if args.json else to_text(reply) + "\n", flush=True)
        return 0
    if not question.strip():
        print("Skriv et spørgsmål, fx: python -m bot ask \"hvad er oslo-standarden\"", file=sys.stderr)
        return 2
    reply = engine.reply(question)
    print(to_json_line(reply) if args.json else to_text(reply))
    return 0


def cmd_chat(_: argparse.Namespace) -> int:
    from bot.chat import run_chat

    return run_chat(_engine(), sys.stdin, sys.stdout)


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluate import run_eval

    engine = _engine()
    return _or_exit(lambda: run_eval(engine, Path(args.file), split=args.split, out=sys.stdout))


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bot.evaluate import calibrate

    knowledge = _load()
    return _or_exit(lambda: calibrate(knowledge, Path(args.file), write=not args.dry_run, out=sys.stdout))


def cmd_train_crisis(_: argparse.Namespace) -> int:
    from bot.crisis import CrisisDetector
    from bot.risk_model import MODEL_FILE, load_examples, ordinary_questions, train, training_hash

    knowledge = _load(fresh_model=False)
    positives, negatives = load_examples(INTENTS_DIR)
    phrases = CrisisDetector(knowledge.crisis)  # the phrase lists alone
    ordinary = ordinary_questions(
        [p for e in knowledge.entries for p in (e.title, *e.phrasings, *e.keywords)]
        # A plain goodbye never reaches the model (CrisisDetector.closing_only); taught as
        # ordinary, "farvel" would weigh less in farewell notes too.
        + [p for i in knowledge.intents for p in i.phrasings if not phrases.closing_only(p)],
        keep=lambda piece: phrases.reason(piece) is None,
    )
    model, stats = train(positives, negatives + ordinary, caught=lambda t: phrases.reason(t) is not None)
    model = replace(model, data_sha256=training_hash(INTENTS_DIR))
    model.save(INTENTS_DIR / MODEL_FILE, {"trained_on": stats})
    print(json.dumps(stats, ensure_ascii=False))
    return 0


def cmd_train_matcher(_: argparse.Namespace) -> int:
    import time

    from bot import entry_model as em
    from bot.engine import build_matcher
    from bot.evaluate import train_members

    knowledge = _load(fresh_model=False)
    started = time.perf_counter()
    examples = knowledge.entry_examples()
    members = _or_exit(train_members)
    shipped = knowledge.entry_model
    if (shipped is not None and shipped.data_sha256 == em.examples_hash(examples)
            and shipped.members_sha256 == em.members_hash(members)):
        print(f"{INTENTS_DIR / em.MODEL_FILE} is current; nothing to do")
        return 0
    model = em.train(build_matcher(knowledge), examples, members)
    model.save(INTENTS_DIR / em.MODEL_FILE)
    print(json.dumps({"examples": len(examples), "members_questions": len(members),
                      "classes": len(model.classes), "features": len(model.vocabulary),
                      "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False))
    return 0


def cmd_export_unanswered(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from bot.review import group_unanswered, write_unanswered_csv

    settings = _settings()
    rows = _with_storage(settings, lambda store: store.unanswered_since(datetime.now(UTC) - timedelta(days=args.days)))
    if rows is None:
        return 1
    groups = group_unanswered(rows)
    write_unanswered_csv(groups, Path(args.file), settings.tz)
    print(f"{len(groups)} grupper af ubesvarede spørgsmål fra de sidste {args.days} dage skrevet til {args.file}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if target.exists():
        print(f"{target}: findes allerede; vælg et nyt filnavn", file=sys.stderr)
        return 1
    if _with_storage(_settings(), lambda store: store.backup(target)) is None and not target.exists():
        return 1
    print(f"sikkerhedskopi skrevet til {target}")
    return 0


def _with_storage(settings, use):  # type: ignore[no-untyped-def]
    """Open the bot's database, run `use(store)`, close it; None when there is no database."""
    import asyncio

    from bot.storage import Storage

    if not settings.bot_db.is_file():
        print(f"{settings.bot_db}: databasen findes ikke (sæt BOT_DB)", file=sys.stderr)
        return None

    async def run():  # type: ignore[no-untyped-def]
        store = await Storage.open(settings.bot_db)
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cmd_health(_: argparse.Namespace) -> int:
    """For a container HEALTHCHECK: the webhook server answers, or the database is sound."""
    import sqlite3
    import urllib.request

    settings = _settings()
    if settings.bot_webhook_url:
        url = f"http://{settings.bot_webhook_listen}:{settings.bot_health_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"{url}: {exc}", file=sys.stderr)
            return 1
    try:
        with sqlite3.connect(f"file:{settings.bot_db}?mode=ro", uri=True, timeout=5) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    except sqlite3.Error as exc:
        print(f"{settings.bot_db}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def _settings():  # type: ignore[no-untyped-def]
    from bot.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.token:
        print(
            "TELEGRAM_BOT_TOKEN er ikke sat: sæt den i miljøet eller i .env "
            "(se README.md), eller brug `python -m bot chat` for at chatte i terminalen.",
            file=sys.stderr,
        )
        return 2
    from bot.telegram.app import run_polling, run_webhook  # only `run` needs telegram

    if getattr(args, "webhook", False) or settings.bot_webhook_url:
        return run_webhook()
    return run_polling()


def cmd_deliver(_: argparse.Namespace) -> int:
    if not _settings().token:
        print("TELEGRAM_BOT_TOKEN er ikke sat (se README.md).", file=sys.stderr)
        return 2
    from bot.telegram.app import deliver_once

    return deliver_once()


def cmd_default(args: argparse.Namespace) -> int:
    if _settings().token:
        return cmd_run(args)
    return cmd_chat(args)


def build_parser() -> argparse.ArgumentParser:
    from bot.evaluate import DEFAULT_EVAL

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.set_defaults(func=cmd_default)
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    run.add_argument("--webhook", action="store_true", help="receive updates by webhook (BOT_WEBHOOK_URL)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("chat", help="chat with the bot in the terminal").set_defaults(func=cmd_chat)
    sub.add_parser("deliver", help="send what the talking-point outbox holds, then exit").set_defaults(func=cmd_deliver)
    check = sub.add_parser("check", help="validate knowledge/ and intents/")
    check.add_argument("--knowledge", default=str(KNOWLEDGE_DIR), help="knowledge folder")
    check.add_argument("--intents", default=str(INTENTS_DIR), help="intents folder")
    check.set_defaults(func=cmd_check)

    ask = sub.add_parser("ask", help="answer one question ('-' reads one per line from stdin)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    ask.add_argument("question", nargs="*", help="the question, or - for stdin")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="run a question set: accuracy, confusions, latency")
    ev.add_argument("file", nargs="?", default=str(DEFAULT_EVAL))
    ev.add_argument("--split", choices=["train", "test", "all"], default="all")
    ev.set_defaults(func=cmd_eval)

    exp = sub.add_parser("export-unanswered", help="write unanswered questions, grouped, to CSV")
    exp.add_argument("file")
    exp.add_argument("--days", type=int, default=30)
    exp.set_defaults(func=cmd_export_unanswered)

    sub.add_parser("health", help="exit 0 when the bot's web server or database is healthy").set_defaults(func=cmd_health)

    backup = sub.add_parser("backup", help="a consistent copy of the database, also while the bot runs")
    backup.add_argument("path")
    backup.set_defaults(func=cmd_backup)

    sub.add_parser("train-crisis", help="train the crisis model on intents/training/").set_defaults(func=cmd_train_crisis)
    sub.add_parser("train-matcher", help="train the entry model on the knowledge base, intents/training/ and the eval train split"
                   ).set_defaults(func=cmd_train_matcher)

    cal = sub.add_parser("calibrate", help="choose the answer/suggest thresholds on the train split")
    cal.add_argument("file", nargs="?", default=str(DEFAULT_EVAL))
    cal.add_argument("--dry-run", action="store_true", help="print, do not write bot/thresholds.json")
    cal.set_defaults(func=cmd_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # `ask --json - | head -1`: the reader has what it wanted. Quiet, as other Unix tools;
        # stdout goes to /dev/null so the interpreter's last flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe
