"""A python-telegram-bot request class on aiohttp's client.

python-telegram-bot talks HTTP through a `BaseRequest`; its default uses httpx. For a
broadcast the bot sends hundreds of messages a second, and httpx's connection pool costs
more CPU per request than the send itself; aiohttp's client does the same work with a
fraction of it. Timeouts map to `TimedOut` and connection trouble to `NetworkError`, as
with the default class, so the rest of the bot cannot tell the difference.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    def __init__(self, connections: int = 64, read_timeout: float = 5.0, connect_timeout: float = 5.0):
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(sock_connect=self._connect_timeout),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if isinstance(read_timeout, type(BaseRequest.DEFAULT_NONE)) else read_timeout
        data: Any = None
        if request_data is not None:
            files = request_data.multipart_data
            params = request_data.json_parameters
            if files:
                form = aiohttp.FormData()
                for name, value in params.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = params
        try:
            # the long-poll timeout of getUpdates comes on top of the read timeout
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None if read is None else read + 1)
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut() from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
