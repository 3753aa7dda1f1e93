"""The ceiling for benchmarks/api.py: a hello-world ASGI app served exactly as Ironkeep is."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'<?xml version="1.0"?><HelloResponse><RequestId>0</RequestId></HelloResponse>'


async def hello(request: Request) -> Response:
    await request.body()
    return Response(_BODY, media_type="text/xml")


app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, lifespan="off"
    )
