"""The terminal chat: the same engine and replies as Telegram, suggestions chosen by number."""

from __future__ import annotations

from typing import TextIO

from bot.engine import Engine, Reply
from bot.render import to_text

WELCOME = (
    "Hej! Jeg svarer på spørgsmål om Bedre Psykiatris politiske materiale, med kilde og links.\n"
    "Jeg giver ikke rådgivning eller behandlingsråd. Skriv et spørgsmål, 'emner' for emnerne,\n"
    "et tal for at vælge et forslag, eller 'afslut' for at stoppe."
)
QUIT = {"afslut", "exit", "quit", "farvel", "/afslut"}


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


def run_chat(engine: Engine, inp: TextIO, out: TextIO) -> int:
    out.write(WELCOME + "\n\n")
    last: Reply | None = None
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
        last = engine.reply(text)
        _show(last, out)
