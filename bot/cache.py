"""A built engine, kept on disk between runs of `ask`, `chat` and `eval`.

Loading and validating the knowledge base and building the index take most of a cold
start (about 0.9 s of 1.1 s). When nothing the engine is built from has changed since the
last run, the engine is unpickled instead (about 60 ms).

The cache key is a hash over everything the engine is built from: every file in
knowledge/ and intents/, bot/thresholds.json, the bot's own source files and the versions
of Python, numpy and pydantic. Any edit therefore misses the cache, so the full load runs,
validates and reports problems exactly as without a cache. The file is written atomically
and only ever read by the process that wrote it or a later one of the same install.

`BOT_CACHE_DIR` sets the folder (default `.cache/` in the project); `BOT_CACHE_DIR=off`
turns the cache off. A folder that cannot be written just means no cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from pathlib import Path

from bot.engine import Engine
from bot.knowledge import INTENTS_DIR, KNOWLEDGE_DIR, ROOT, load_knowledge

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
PREFIX = "engine-"


def cache_dir() -> Path | None:
    value = os.environ.get("BOT_CACHE_DIR", "").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else ROOT / ".cache"


def inputs_digest(knowledge_dir: Path, intents_dir: Path) -> str:
    import numpy
    import pydantic

    digest = hashlib.sha256(f"{sys.version}|{numpy.__version__}|{pydantic.VERSION}".encode())
    files = [p for d in (knowledge_dir, intents_dir) for p in sorted(d.rglob("*")) if p.is_file()]
    files += sorted(PACKAGE.rglob("*.py")) + [PACKAGE / "thresholds.json"]
    for path in files:
        if path.is_file():
            digest.update(str(path).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_engine(knowledge_dir: Path = KNOWLEDGE_DIR, intents_dir: Path = INTENTS_DIR) -> Engine:
    """The engine for these folders: from the cache when it is current, else built (and cached).

    Raises KnowledgeError like load_knowledge when the files have problems.
    """
    folder = cache_dir()
    if folder is None:
        return Engine(load_knowledge(knowledge_dir, intents_dir))
    path = folder / f"{PREFIX}{inputs_digest(knowledge_dir, intents_dir)[:32]}.pickle"
    try:
        with path.open("rb") as fh:
            engine = pickle.load(fh)  # noqa: S301 - our own file, keyed by the hash of its inputs
        if isinstance(engine, Engine):
            return engine
    except FileNotFoundError:
        pass
    except Exception as exc:  # a truncated or foreign file: rebuild
        log.warning("ignoring the engine cache %s: %s", path, exc)
    engine = Engine(load_knowledge(knowledge_dir, intents_dir))
    _store(folder, path, engine)
    return engine


def _store(folder: Path, path: Path, engine: Engine) -> None:
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", delete=False) as fh:
            tmp = Path(fh.name)
            pickle.dump(engine, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
        for old in folder.glob(f"{PREFIX}*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError) as exc:
        log.info("no engine cache (%s): %s", folder, exc)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
