"""moto's server, answering one request at a time.

`moto_server` serves each request on a thread of its own, and moto's backends are not safe for
that: a TransactWriteItems that fails a condition rolls back by putting back copies of its tables
taken before it began, so a commit running beside it can lose its writes or a losing commit's
writes can come back. DynamoDB itself makes a transaction all or nothing under any concurrency,
and the store conformance tests check exactly that (eight signers racing for one signing link),
so the tests run moto behind one lock: connections are still served on threads (the SDK's
keep-alive pool works as against AWS), but the backends see one request at a time.

Usage: python moto_serial.py HOST PORT (with the moto venv's python).
"""

import os
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))  # as moto_server does: URLs moto hands out
    backends = DomainDispatcherApplication(create_backend_app)
    backends.debug = True
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The body is read out under the lock: a streamed answer is produced by the backend.
            return list(backends(environ, start_response))

    run_simple(
        host,
        port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
