from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR, Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> Engine:
    return Engine(knowledge)


@pytest.fixture
def kb_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of knowledge/ and intents/ that a test may break."""
    k = tmp_path / "knowledge"
    i = tmp_path / "intents"
    shutil.copytree(KNOWLEDGE_DIR, k)
    shutil.copytree(INTENTS_DIR, i)
    return k, i


def run_bot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as a member or coordinator would run it."""
    full_env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True,
        text=True, timeout=timeout, env=full_env,
    )
