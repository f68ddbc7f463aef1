"""The knowledge base loads, is complete, and every kind of mistake is reported as FILE:LINE."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.knowledge import MAX_ANSWER, KnowledgeError, Knowledge, load_knowledge
from tests.conftest import ROOT, run_bot

GROUNDING = ROOT.parent / "shared" / "tools" / "check_grounding.py"


def entry_yaml(id_: str = "test-entry", **override: str) -> str:
    """One valid entry as YAML text, one field per line so line numbers are predictable."""
    fields = {
        "type": "concept",
        "topic": "gode-bosteder",
        "title": "Et testemne",
        "answer": '"Et svar der er langt nok til at være et rigtigt svar på et spørgsmål."',
        "source": "{doc: maerkesager-2025, section: Gode bosteder}",
        "phrasings": "[et, to, tre, fire, fem, seks]",
        "keywords": "[test]",
    }
    fields.update(override)
    lines = [f"  - id: {id_}"] + [f"    {k}: {v}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


def write(kdir: Path, text: str, name: str = "zz-test.yaml") -> str:
    (kdir / name).write_text(text, encoding="utf-8")
    return f"{kdir / name}"


def problems_for(kb: tuple[Path, Path]) -> list[str]:
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(*kb)
    return [str(p) for p in exc.value.problems]


# -- the real knowledge base -------------------------------------------------------------


def test_every_file_loads(knowledge: Knowledge) -> None:
    assert len(knowledge.entries) >= 180
    assert len(knowledge.sources) == 5


def test_ids_are_unique_and_related_ids_resolve(knowledge: Knowledge) -> None:
    counts = Counter(e.id for e in knowledge.entries)
    assert [i for i, n in counts.items() if n > 1] == []
    missing = [(e.id, r) for e in knowledge.entries for r in e.related if r not in knowledge.by_id]
    assert missing == []


def test_every_entry_has_phrasings_source_and_short_answer(knowledge: Knowledge) -> None:
    for e in knowledge.entries:
        assert len(e.phrasings) >= 6, e.id
        assert e.source.doc in knowledge.sources and e.source.section, e.id
        assert 0 < len(e.answer) <= MAX_ANSWER, e.id


def test_every_document_is_covered_and_003_most(knowledge: Knowledge) -> None:
    per_doc = Counter(e.source.doc for e in knowledge.entries)
    assert set(per_doc) == set(knowledge.sources)
    assert min(per_doc.values()) >= 10
    assert per_doc.most_common(1)[0][0] == "maerkesager-2025"


def test_every_fact_states_its_figure_in_the_answer(knowledge: Knowledge) -> None:
    facts = [e for e in knowledge.entries if e.type == "fact"]
    assert len(facts) >= 40
    for e in facts:
        assert e.fact is not None
        answer = e.answer.replace("\u00a0", " ")
        for number in re.findall(r"\d+(?:[.,]\d+)?", e.fact.figure):
            assert number in answer, f"{e.id}: figure {number} is not in the answer"


@pytest.mark.skipif(not GROUNDING.is_file(), reason="../shared is not beside the project")
def test_every_figure_and_link_is_in_the_documents() -> None:
    result = subprocess.run([sys.executable, str(GROUNDING)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_check_prints_the_summary_line() -> None:
    result = run_bot("check")
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"knowledge: \d+ entries, 5 sources, \d+ phrasings, \d+ links; intents: \d+", last
    ), last


# -- one test per kind of mistake --------------------------------------------------------


def test_bad_yaml_names_file_and_line(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n  - id: x\n    title: [not closed\n    answer: y\n")
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:") and "not valid YAML" in p for p in found), found


def test_unknown_field(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml(colour="rød"))
    # line 1 "entries:", line 2 "- id", then type, topic, title, answer, source, phrasings,
    # keywords (line 9), colour (line 10)
    assert f"{path}:10: unknown field 'colour' in entries.0" in problems_for(kb_copy)


def test_missing_field(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml(answer=None))  # type: ignore[arg-type]
    assert f"{path}:2: missing field 'entries.0.answer'" in problems_for(kb_copy)


def test_duplicate_id(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml("oslo-standarden"))
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:2: duplicate id 'oslo-standarden' (first in ") for p in found), found


def test_related_id_that_does_not_exist(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml(related="\n      - oslo-standarden\n      - findes-ikke"))
    # related: is line 10, its items lines 11 and 12
    assert f"{path}:12: related id 'findes-ikke' does not exist" in problems_for(kb_copy)


def test_answer_too_long_for_telegram(kb_copy: tuple[Path, Path]) -> None:
    long = "Et meget langt svar. " * 60
    path = write(kb_copy[0], "entries:\n" + entry_yaml(answer=f'"{long.strip()}"'))
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:6: entries.0.answer: answer is") and "Telegram" in p for p in found), found


def test_link_that_is_not_http(kb_copy: tuple[Path, Path]) -> None:
    links = "\n      - title: En fil\n        url: ftp://example.org/fil.pdf"
    path = write(kb_copy[0], "entries:\n" + entry_yaml(links=links))
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:12: entries.0.links.0.url: link must be an http(s) URL") for p in found), found


def test_too_few_phrasings(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml(phrasings="[en, to]"))
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:8: entries.0.phrasings:") for p in found), found


def test_duplicate_key_in_one_entry(kb_copy: tuple[Path, Path]) -> None:
    text = "entries:\n" + entry_yaml().replace("    keywords: [test]\n", "    keywords: [test]\n    title: Igen\n")
    path = write(kb_copy[0], text)
    assert f"{path}:10: duplicate key 'title' (first at line 5)" in problems_for(kb_copy)


def test_unknown_topic_and_source(kb_copy: tuple[Path, Path]) -> None:
    path = write(kb_copy[0], "entries:\n" + entry_yaml(topic="fodbold", source="{doc: avisen, section: Sport}"))
    found = problems_for(kb_copy)
    assert f"{path}:4: unknown topic 'fodbold' (see knowledge/topics.yaml)" in found
    assert f"{path}:7: unknown source 'avisen' (see knowledge/sources.yaml)" in found


def test_broken_intent_file(kb_copy: tuple[Path, Path]) -> None:
    path = kb_copy[1] / "zz-test.yaml"
    path.write_text("intents:\n  - name: hej\n    phrasings: [hej]\n    reply: Hej\n", encoding="utf-8")
    found = problems_for(kb_copy)
    assert any(p.startswith(f"{path}:3: intents.0.phrasings:") for p in found), found


def test_check_reports_every_problem_in_one_run_and_exits_1(kb_copy: tuple[Path, Path]) -> None:
    kdir, idir = kb_copy
    write(kdir, "entries:\n" + entry_yaml("oslo-standarden") + entry_yaml("to", colour="rød")
          + entry_yaml("tre", related="[findes-ikke]"))
    write(kdir, "entries:\n  - id: x\n\ttitle: y\n", name="zz-broken.yaml")
    result = run_bot("check", "--knowledge", str(kdir), "--intents", str(idir))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert all(re.match(r"^.+\.yaml:\d+: ", line) for line in lines), lines
    text = result.stdout
    assert "zz-test.yaml:2: duplicate id 'oslo-standarden'" in text
    assert "zz-test.yaml:18: unknown field 'colour'" in text
    assert "zz-test.yaml:27: related id 'findes-ikke' does not exist" in text
    assert "zz-broken.yaml:3: not valid YAML" in text
    assert "Traceback" not in result.stderr


def test_knowledge_readme_example_is_a_valid_entry(kb_copy: tuple[Path, Path]) -> None:
    """The example a coordinator copies from knowledge/README.md must itself pass the check."""
    readme = (ROOT / "knowledge" / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.S)
    assert example
    data = yaml.safe_load(example.group(1))
    data["entries"][0]["id"] = "readme-eksempel"
    (kb_copy[0] / "zz-example.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    knowledge = load_knowledge(*kb_copy)
    assert "readme-eksempel" in knowledge.by_id
