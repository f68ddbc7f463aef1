"""The command line as a member, coordinator or developer uses it: ask, ask --json, chat, eval."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, run_bot

JSON_KEYS = {"kind", "text", "entry", "score", "sources", "suggestions"}


def test_ask_prints_answer_source_and_links() -> None:
    result = run_bot("ask", "hvad er oslo standarden")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Oslo" in out
    assert "Kilde:" in out and "Pårørendevenlige kommuner" in out
    assert "https://www.kompetansebroen.no/samhandling/oslostandard-for-parorendesamarbeid" in out


def test_ask_json_contract() -> None:
    result = run_bot("ask", "--json", "hvad er oslo standarden")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert set(reply) == JSON_KEYS
    assert reply["kind"] == "answer" and reply["entry"] == "oslo-standarden"
    assert isinstance(reply["score"], float) and 0 < reply["score"] <= 1
    assert "Kilde:" in reply["text"]
    urls = [s["url"] for s in reply["sources"]]
    assert "https://www.kompetansebroen.no/samhandling/oslostandard-for-parorendesamarbeid" in urls
    assert all(set(s) == {"title", "url"} for s in reply["sources"])
    assert reply["suggestions"] == []


def test_ask_json_crisis_and_fallback_shapes() -> None:
    crisis = json.loads(run_bot("ask", "--json", "jeg vil ikke leve mere").stdout)
    assert crisis["kind"] == "crisis" and crisis["entry"] is None and "112" in crisis["text"]
    fallback = json.loads(run_bot("ask", "--json", "hvem vinder fodboldkampen i aften").stdout)
    assert fallback["kind"] == "fallback" and fallback["entry"] is None and fallback["score"] is None


def test_ask_stdin_answers_each_line_in_order() -> None:
    questions = ["hej", "hvad er oslo standarden", "jeg vil ikke leve mere", "asdf qwerty", "pcv"]
    result = run_bot("ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in replies] == ["intent", "answer", "crisis", "fallback", "answer"]
    assert replies[0]["entry"] == "hilsen"
    assert replies[4]["entry"] == "pcv"
    assert all(set(r) == JSON_KEYS for r in replies)


def test_ask_without_question_explains_in_danish() -> None:
    result = run_bot("ask")
    assert result.returncode == 2
    assert "Skriv et spørgsmål" in result.stderr


def test_chat_answers_and_picks_a_suggestion_by_number() -> None:
    # "pårørende" alone is a topic, not a question: the chat offers suggestions,
    # and "1" answers the first of them.
    result = run_bot("chat", stdin="hej\npårørende\n1\nafslut\n")
    assert result.returncode == 0, result.stderr
    # stdin is not echoed: each reply follows one "> " prompt
    welcome, greeting, suggestion, chosen, goodbye = result.stdout.split("> ")
    assert "Hej!" in greeting
    assert "Mente du" in suggestion and "\n1. " in suggestion
    title = suggestion.split("\n1. ")[1].splitlines()[0]
    assert "Kilde:" in chosen and "Mente du" not in chosen
    assert goodbye.strip() == "Farvel."
    assert title


def test_chat_rejects_a_number_out_of_range() -> None:
    result = run_bot("chat", stdin="pårørende\n9\n")
    assert "Vælg et tal mellem 1 og" in result.stdout


def test_default_command_without_token_is_the_terminal_chat() -> None:
    result = run_bot(stdin="afslut\n")
    assert result.returncode == 0
    assert "Skriv et spørgsmål" in result.stdout and "Farvel." in result.stdout


def test_run_without_token_is_one_clear_line_and_exit_2() -> None:
    result = run_bot("run")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_eval_prints_every_measure() -> None:
    result = run_bot("eval")
    assert result.returncode == 0, result.stderr
    for label in ("top-1 answered correctly", "out-of-scope not answered", "crisis recall",
                  "false crisis", "accuracy per document", "latency per question", "train split",
                  "test split", "by kind: everyday"):
        assert label in result.stdout


def test_eval_on_a_bad_question_file_names_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "questions.yaml"
    bad.write_text("questions:\n  - q: hvad er oslo standarden\n    expect: [kommuner-oslo-standarden]\n"
                   "  - q: hvad koster en pizza\n    expect: fallback\n    category: mad\n"
                   "  - q: hej\n", encoding="utf-8")
    result = run_bot("eval", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:6: category 'mad'" in result.stderr
    assert f"{bad}:7: each question needs" in result.stderr


def test_chat_quiz_with_numbered_answers() -> None:
    result = run_bot("chat", stdin="quiz bosteder\n" + "1\n" * 10 + "afslut\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Quiz: Gode bosteder – 10 spørgsmål" in out
    assert out.count("Kilde:") == 10
    assert "Spørgsmål 10/10" in out and "af 10 rigtige" in out
    assert out.count("Rigtigt!") + out.count("Forkert.") == 10


def test_chat_quiz_rejects_a_bad_answer_and_can_stop() -> None:
    result = run_bot("chat", stdin="quiz\nfem\n9\nstop\nafslut\n")
    assert "Skriv et tal mellem 1 og" in result.stdout
    assert "Quizzen er stoppet." in result.stdout


def test_ask_stdin_stops_quietly_when_the_reader_closes_the_pipe() -> None:
    # `python -m bot ask --json - < questions.txt | head -1`: the first answer, no traceback.
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json", "-"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(("hvad er oslo standarden\n" * 200).encode())
    proc.stdin.close()
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    proc.wait(timeout=60)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert first["entry"] == "oslo-standarden"
    assert b"Traceback" not in err and b"BrokenPipe" not in err
