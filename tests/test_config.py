"""Configuration: validated once; a bad value is reported as FILE:LINE and stops the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.conftest import run_bot


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL", "BOT_DB", "BOT_COORDINATORS", "BOT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path / "none.env")
    assert settings.token is None
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.bot_db == Path("data/bot.sqlite3")
    assert settings.bot_coordinators == []
    assert str(settings.tz) == "Europe/Copenhagen"


def test_env_file_values_and_bad_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_COORDINATORS", "BOT_TIMEZONE", "TELEGRAM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    env.write_text("# settings\nBOT_COORDINATORS=12, 34\nBOT_TIMEZONE=Europe/Copenhagen\n", encoding="utf-8")
    assert load_settings(env).bot_coordinators == [12, 34]
    env.write_text("# settings\nBOT_COORDINATORS=12,abc\nTELEGRAM_BASE_URL=ftp://x\nBOT_TIMEZONE=Mars/Base\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    lines = exc.value.lines
    assert f"{env}:2: BOT_COORDINATORS: expected comma-separated Telegram user ids (numbers), got 'abc'" in lines
    assert any(line.startswith(f"{env}:3: TELEGRAM_BASE_URL:") for line in lines)
    assert any(line.startswith(f"{env}:4: BOT_TIMEZONE: unknown time zone") for line in lines)


def test_bad_environment_stops_run_with_exit_2_and_no_traceback() -> None:
    result = run_bot("run", env={"TELEGRAM_BOT_TOKEN": "1:x", "BOT_COORDINATORS": "alice"})
    assert result.returncode == 2
    assert "environment: BOT_COORDINATORS:" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_setting_is_documented_and_the_example_loads() -> None:
    from bot.config import Settings
    from tests.conftest import ROOT

    example = ROOT / "deploy" / ".env.example"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = example.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in text, name
        assert f"`{name.upper()}`" in readme, name
    settings = load_settings(example)
    assert settings.token is None and settings.bot_channel_id is None


def test_health_command_checks_the_database(tmp_path: Path) -> None:
    import asyncio

    from bot.storage import Storage

    async def make() -> None:
        store = await Storage.open(tmp_path / "bot.sqlite3")
        await store.close()

    asyncio.run(make())
    assert run_bot("health", env={"BOT_DB": str(tmp_path / "bot.sqlite3")}).returncode == 0
    assert run_bot("health", env={"BOT_DB": str(tmp_path / "missing.sqlite3")}).returncode == 1


def test_deploy_files_exist_and_name_the_real_commands() -> None:
    from tests.conftest import ROOT

    deploy = ROOT / "deploy"
    dockerfile = (deploy / "Dockerfile").read_text()
    assert "USER bot" in dockerfile and "HEALTHCHECK" in dockerfile and 'VOLUME ["/data"]' in dockerfile
    assert "python -m bot run" in (deploy / "bp-bot.service").read_text()
    assert "X-Telegram-Bot-Api-Secret-Token".lower() in (deploy / "nginx.conf").read_text().lower()
    readme = (deploy / "README.md").read_text()
    for command in ("python -m bot backup", "/genindlaes", "systemctl reload", "train-crisis"):
        assert command in readme
