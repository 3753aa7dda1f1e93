"""The ceiling for benchmarks/api.py: a hello-world ASGI app served exactly as Ironkeep is
(Starlette on uvicorn; with ``workers`` > 1, forked workers on one port, as ``ironkeep serve
--workers``).

    python3 benchmarks/hello_app.py PORT [WORKERS]
"""

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


def main() -> None:
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    from ironkeep.prefork import listen, reserve, supervise

    held = reserve("127.0.0.1", port)

    def worker(index: int) -> int:
        uvicorn.Server(config).run(sockets=[listen("127.0.0.1", port)])
        return 0

    status = supervise(workers, worker)
    held.close()
    sys.exit(status)


if __name__ == "__main__":
    main()
