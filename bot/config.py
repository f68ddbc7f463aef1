"""Settings from the environment, optionally a .env file; validated once, typed.

pydantic-settings reads and validates them; this module only turns a validation error into
`FILE:LINE: what is wrong` (the .env line when the value came from there).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ENV_FILE = Path(".env")


def _id_list(value: object) -> object:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        bad = [p for p in parts if not p.lstrip("-").isdigit()]
        if bad:
            raise ValueError(f"expected comma-separated Telegram user ids (numbers), got {', '.join(bad)!r}")
        return [int(p) for p in parts]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    # env_ignore_empty: a variable left empty (as in deploy/.env.example) means "use the default"
    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = DEFAULT_BASE_URL
    bot_db: Path = Path("data/bot.sqlite3")
    bot_coordinators: Annotated[list[int], NoDecode, BeforeValidator(_id_list)] = Field(default_factory=list)
    bot_timezone: str = "Europe/Copenhagen"
    bot_channel_id: int | None = None
    # Webhook mode (instead of long polling) when a public https URL is set.
    bot_webhook_url: str | None = None
    bot_webhook_secret: SecretStr | None = None
    bot_webhook_listen: str = "127.0.0.1"
    bot_webhook_port: int = Field(default=8080, ge=1, le=65535)
    bot_health_port: int = Field(default=8081, ge=1, le=65535)
    # Days a stored question text is kept (the unanswered ones coordinators review).
    bot_retention_days: int = Field(default=90, ge=1, le=3650)
    # Messages per second in a broadcast: Telegram allows about 30; keep 25 unless testing.
    bot_broadcast_rate: int = Field(default=25, ge=1, le=10_000)

    @field_validator("telegram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.telegram.org/bot")
        return value

    @field_validator("bot_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://") and not value.startswith("http://127.0.0.1"):
            raise ValueError("must be a public https URL, e.g. https://bot.example.org/telegram")
        return value

    @field_validator("bot_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            import re

            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()):
                raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("bot_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Copenhagen") from None
        return value

    @property
    def token(self) -> str | None:
        if self.telegram_bot_token is None:
            return None
        token = self.telegram_bot_token.get_secret_value().strip()
        return token or None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)


class ConfigError(Exception):
    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _env_file_line(name: str, env_file: Path) -> int | None:
    if not env_file.is_file():
        return None
    for number, line in enumerate(env_file.read_text(encoding="utf-8").splitlines(), 1):
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if key.upper() == name.upper():
            return number
    return None


def load_settings(env_file: Path = ENV_FILE) -> Settings:
    """Settings, or ConfigError with one `FILE:LINE: VARIABLE: problem` line per problem."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            msg = err["msg"].removeprefix("Value error, ")
            line = None if name in os.environ else _env_file_line(name, env_file)
            # A value from the process environment has no file; name the variable instead.
            where = f"{env_file}:{line}" if line else "environment"
            lines.append(f"{where}: {name}: {msg}")
        raise ConfigError(lines) from None
