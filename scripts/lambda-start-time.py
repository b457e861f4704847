#!/usr/bin/env python3
"""Start-to-ready time and size of each Lambda binary built by `cargo lambda build --release`.

For each `target/lambda/<function>/bootstrap`, the binary is started the way Lambda starts it,
with `AWS_LAMBDA_RUNTIME_API` pointing at a stand-in for the Lambda Runtime API on loopback
(this script). The time measured is from spawning the process to its first
`GET /2018-06-01/runtime/invocation/next`: what `main` does before it can take an event
(logging set up, environment read, AWS SDK clients built). The stand-in then answers 410 and the
process is stopped.

Not measured: what Lambda itself does before it runs the binary (creating the execution
environment, fetching the code), which AWS reports as part of the Init Duration and which no
local run can reproduce.

Usage: scripts/lambda-start-time.py [RUNS]   (default 20 runs per function)
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DIR = ROOT / "target" / "lambda"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Records when the first `next` request arrives, and refuses it."""

    ready_at = None
    ready = threading.Event()

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path.endswith("/runtime/invocation/next") and not RuntimeApi.ready.is_set():
            RuntimeApi.ready_at = time.perf_counter()
            RuntimeApi.ready.set()
        self.send_response(410)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):  # noqa: N802: an init error report, if the binary fails to start
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        sys.stderr.write(f"init error reported: {body}\n")
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def environment(function, port):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2027/03/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "AWS_REGION": "eu-central-1",
        "AWS_DEFAULT_REGION": "eu-central-1",
        # Credentials as Lambda passes them, so the SDK looks nowhere else.
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "example/example/example/example/example0",
        "AWS_SESSION_TOKEN": "example-session-token",
        "TRANCHE_PUBLIC_URL": "https://pay.example.com",
        "TRANCHE_MAIL_FROM": "Acme Payments <payments@example.com>",
        "TRANCHE_BUCKET": "tranche-files-123456789012-eu-central-1",
        "TRANCHE_BATCH_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/batch",
    }
    return env


def measure(bootstrap, function, server):
    RuntimeApi.ready.clear()
    RuntimeApi.ready_at = None
    port = server.server_address[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(bootstrap)],
        env=environment(function, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ok = RuntimeApi.ready.wait(timeout=10)
    process.kill()
    _, stderr = process.communicate()
    if not ok:
        raise SystemExit(
            f"{function}: never asked for an event; it said:\n{stderr.decode(errors='replace')}"
        )
    return (RuntimeApi.ready_at - started) * 1000


def main():
    bootstraps = sorted(LAMBDA_DIR.glob("*/bootstrap"))
    if not bootstraps:
        raise SystemExit(f"no {LAMBDA_DIR}/*/bootstrap: run `cargo lambda build --release` first")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(
        f"{'function':<18} {'bytes':>11} {'MB':>6} {'MiB':>6} {'median':>8} {'p90':>8} {'max':>8}"
        f"  ({RUNS} starts)"
    )
    for bootstrap in bootstraps:
        function = bootstrap.parent.name
        times = sorted(measure(bootstrap, function, server) for _ in range(RUNS))
        size = bootstrap.stat().st_size
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(
            f"{function:<18} {size:>11,} {size / 1e6:>6.2f} {size / 2**20:>6.2f} "
            f"{statistics.median(times):>6.1f}ms "
            f"{p90:>6.1f}ms {times[-1]:>6.1f}ms"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
