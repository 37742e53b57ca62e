#!/usr/bin/env python3
"""A read-only git server on loopback for Flux's source-controller in the local cluster (`hack/devcluster flux up`):
the bare repositories under --root, served over git's smart HTTP protocol by `git http-backend`, which this
wraps as CGI. Nothing leaves the machine; pushes go to the bare repositories' paths directly.

    python3 hack/gitserver.py --root DIR --port PORT     # http://127.0.0.1:PORT/<name>.git
"""

from __future__ import annotations

import argparse
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class GitHandler(BaseHTTPRequestHandler):
    root: Path  # set on the subclass made by main()
    protocol_version = "HTTP/1.0"  # the CGI output has no length: the response ends when the connection closes

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        url = urlsplit(self.path)
        if url.path.endswith("/git-receive-pack") or "service=git-receive-pack" in url.query:
            self.send_error(403, "read-only: push to the bare repository's path")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = result.stdout.partition(b"\n\n")
        headers = [line.split(":", 1) for line in head.decode("latin-1").splitlines() if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        if result.returncode != 0 and status == 200:
            status = 500
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="directory of bare repositories")
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args()
    handler = type("Handler", (GitHandler,), {"root": args.root.resolve()})
    with ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
