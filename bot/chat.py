"""The terminal chat: the same engine and replies as Telegram, suggestions chosen by number,
and the same quiz with numbered answers (its rounds kept in an in-memory database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.engine import Engine, Reply
from bot.quiz import Theme, duration_text, find_theme
from bot.quiz_session import QuizService
from bot.render import to_text
from bot.storage import Storage

WELCOME = (
    "Hej! Jeg svarer på spørgsmål om Bedre Psykiatris politiske materiale, med kilde og links.\n"
    "Jeg giver ikke rådgivning eller behandlingsråd. Skriv et spørgsmål, 'emner' for emnerne,\n"
    "'quiz' (eller 'quiz bosteder') for at træne, et tal for at vælge et forslag, eller\n"
    "'afslut' for at stoppe."
)
QUIT = {"afslut", "exit", "quit", "farvel", "/afslut"}
STOP_QUIZ = {"stop", "stop quiz", "afbryd"}
CHAT_USER = 0  # the one volunteer at this terminal


def _show(reply: Reply, out: TextIO) -> None:
    out.write(to_text(reply) + "\n")
    choices = reply.suggestions or reply.related
    if reply.kind == "answer" and reply.related:
        out.write("\nRelaterede spørgsmål:\n")
        out.write("".join(f"  {i}. {r.title}\n" for i, r in enumerate(reply.related, 1)))
    if choices:
        out.write("(Skriv et tal for at vælge.)\n")
    out.write("\n")
    out.flush()


class _Quiz:
    """The quiz at the terminal: one asyncio runner, one in-memory database."""

    def __init__(self, engine: Engine):
        self.runner = asyncio.Runner()
        self.storage = self.runner.run(Storage.open(Path(":memory:")))
        self.service = QuizService(engine.knowledge, self.storage, lambda: datetime.now(UTC))

    def close(self) -> None:
        self.runner.run(self.storage.close())
        self.runner.close()

    def play(self, theme: Theme, inp: TextIO, out: TextIO) -> bool:
        """One round; False when input ended."""
        shown = self.runner.run(self.service.start(CHAT_USER, CHAT_USER, theme))
        if shown is None:
            out.write(f"Der er ingen spørgsmål i emnet {theme.title} endnu.\n\n")
            return True
        out.write(f"Quiz: {theme.title} – {shown.total} spørgsmål. Svar med tallet; 'stop' afbryder.\n\n")
        round_id = shown.round_id
        while shown is not None:
            out.write(f"Spørgsmål {shown.position + 1}/{shown.total}: {shown.question.text}\n")
            out.write("".join(f"  {i}. {o}\n" for i, o in enumerate(shown.options, 1)))
            while True:
                out.write("svar> ")
                out.flush()
                line = inp.readline()
                if not line:
                    return False
                text = line.strip().casefold()
                if text in STOP_QUIZ:
                    out.write("Quizzen er stoppet.\n\n")
                    return True
                if text.isdigit() and 1 <= int(text) <= len(shown.options):
                    break
                out.write(f"Skriv et tal mellem 1 og {len(shown.options)}.\n")
            graded = self.runner.run(self.service.answer(round_id, shown.position, CHAT_USER, int(text) - 1))
            assert not isinstance(graded, str)
            verdict = "Rigtigt!" if graded.right else f"Forkert. Det rigtige svar er: {graded.right_text}"
            out.write(f"{verdict}\n{graded.question.explanation}\nKilde: {graded.question.source}\n")
            if graded.question.link:
                out.write(f"Læs mere: {graded.question.link}\n")
            out.write("\n")
            shown = self.runner.run(self.service.current(CHAT_USER, CHAT_USER))
        result = self.runner.run(self.service.result(round_id))
        out.write(f"Du fik {result.score} af {result.total} rigtige på {duration_text(result.seconds)}. "
                  f"{result.comparison()}\n")
        if result.missed:
            titles = [self.service.knowledge.by_id[e].title for e in result.missed[:5]]
            out.write("Læs op på: " + "; ".join(titles) + "\n")
        out.write("\n")
        return True


def run_chat(engine: Engine, inp: TextIO, out: TextIO) -> int:
    out.write(WELCOME + "\n\n")
    last: Reply | None = None
    quiz: _Quiz | None = None
    try:
        while True:
            out.write("> ")
            out.flush()
            line = inp.readline()
            if not line:
                out.write("\nFarvel.\n")
                return 0
            text = line.strip()
            if not text:
                continue
            if text.casefold() in QUIT:
                out.write("Farvel.\n")
                return 0
            choices = (last.suggestions or last.related) if last else ()
            if text.isdigit() and choices:
                n = int(text)
                if 1 <= n <= len(choices):
                    reply = engine.answer_entry(choices[n - 1].entry)
                    if reply is not None:
                        last = reply
                        _show(reply, out)
                        continue
                out.write(f"Vælg et tal mellem 1 og {len(choices)}.\n\n")
                continue
            reply = engine.reply(text)
            theme = _quiz_theme(engine, text, reply)
            if theme is not None:
                quiz = quiz or _Quiz(engine)
                if not quiz.play(theme, inp, out):
                    out.write("\nFarvel.\n")
                    return 0
                last = None
                continue
            last = reply
            _show(last, out)
    finally:
        if quiz is not None:
            quiz.close()


def _quiz_theme(engine: Engine, text: str, reply: Reply) -> Theme | None:
    """'quiz', '/quiz bosteder' or a quiz intent ("jeg vil øve mig") start a round."""
    words = text.split(maxsplit=1)
    if words and words[0].casefold().lstrip("/") == "quiz":
        service_themes = {t.id: t for t in _themes(engine)}
        if len(words) == 1:
            return service_themes["alle"]
        return find_theme(engine.knowledge, words[1]) or service_themes["alle"]
    if reply.kind == "intent" and reply.action == "quiz":
        return {t.id: t for t in _themes(engine)}["alle"]
    return None


def _themes(engine: Engine) -> list[Theme]:
    from bot.quiz import themes

    return themes(engine.knowledge)
