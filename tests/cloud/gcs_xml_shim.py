"""Test-only HTTP adapter that lets object_store (Polars, obstore) write to fake-gcs-server.

object_store talks to GCS through the XML API. fake-gcs-server (v1.54) serves XML reads, range
reads, HEAD, list and delete fine, but answers every XML *write* with ``400 invalid uploadType``.
This shim sits in front of it on its own port and rewrites just the writes:

* ``PUT /b/key`` (single upload): forwarded as a signed-URL upload (``?X-Goog-Algorithm=...``),
  which fake-gcs-server accepts; the JSON reply is turned into ``ETag``/``x-goog-generation``.
* ``PUT /b/key`` with ``x-goog-copy-source: b/src``: done with the JSON API ``copyTo`` call.
* XML multipart upload: ``POST ?uploads`` starts it, ``PUT ?partNumber&uploadId`` buffers parts
  in this process, ``POST ?uploadId`` concatenates them into one upload, ``DELETE ?uploadId``
  aborts.
* A listing of a missing bucket, which fake-gcs-server answers with ``500 no bucket named``,
  becomes GCS's real ``404 NoSuchBucket`` (object_store retries 500s for seconds).
* ``x-goog-if-generation-match`` on writes (object_store's ``PutMode.Create`` / ``Update``) is
  checked here with a HEAD first (not atomic; good enough for single-process tests) and answered
  with ``412`` on mismatch.

Everything else (reads, range reads, HEAD, XML list, delete, and the JSON API under
``/storage/v1``, ``/upload``, ``/download``) is proxied unchanged. Request bodies must carry a
Content-Length (object_store always sends one); responses are buffered, fine for test sizes.

Run: ``python gcs_xml_shim.py PORT UPSTREAM_URL``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

_JSON_API_ROOTS = {"storage", "upload", "download"}  # /storage/v1/... etc.: always proxied
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}
_UPLOADS: dict[str, dict[int, bytes]] = {}  # uploadId -> {partNumber: data}
_LOCK = threading.Lock()


class ShimHandler(BaseHTTPRequestHandler):
    """One request; ``upstream`` is set on a subclass by :func:`make_server`."""

    protocol_version = "HTTP/1.1"  # keep-alive: every reply below sets Content-Length
    upstream: tuple[str, int] = ("127.0.0.1", 4443)

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _call(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        conn.request(method, target, body=body, headers=headers or {})
        return conn.getresponse(), conn

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        self._reply(status, f"{xml}<Message>{message}</Message></Error>".encode(), _XML)

    # -- routing ----------------------------------------------------------------------------
    def _route(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        bucket, _, key = url.path.lstrip("/").partition("/")
        is_object = bool(bucket and key) and bucket not in _JSON_API_ROOTS
        if self.command == "POST" and is_object and "uploads" in query:
            return self._initiate()
        if self.command == "PUT" and is_object and "uploadId" in query:
            return self._part(query["uploadId"][0], int(query["partNumber"][0]))
        if self.command == "POST" and is_object and "uploadId" in query:
            return self._complete(url.path, query["uploadId"][0])
        if self.command == "DELETE" and is_object and "uploadId" in query:
            with _LOCK:
                _UPLOADS.pop(query["uploadId"][0], None)
            return self._reply(204)
        if self.command == "PUT" and is_object:
            body = self._body()
            if not self._precondition_ok(url.path):
                return None
            if "x-goog-copy-source" in self.headers:
                return self._copy(bucket, key)
            return self._upload(url.path, body, self.headers.get("Content-Type"))
        return self._proxy()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _route

    # -- writes -----------------------------------------------------------------------------
    def _precondition_ok(self, path: str) -> bool:
        wanted = self.headers.get("x-goog-if-generation-match")
        if wanted is None:
            return True
        resp, conn = self._call("HEAD", path)
        resp.read()
        conn.close()
        current = resp.getheader("x-goog-generation", "0") if resp.status == 200 else "0"
        if current != wanted:
            self._error(412, "PreconditionFailed", f"generation {current} != {wanted}")
            return False
        return True

    def _upload(self, path: str, body: bytes, content_type: str | None) -> None:
        headers = {"Content-Type": content_type or "application/octet-stream"}
        resp, conn = self._call("PUT", f"{path}?X-Goog-Algorithm=shim", body, headers)
        self._reply_with_object(resp, conn)

    def _copy(self, bucket: str, key: str) -> None:
        src_bucket, _, src_key = (
            unquote(self.headers["x-goog-copy-source"]).lstrip("/").partition("/")
        )
        src = f"/storage/v1/b/{quote(src_bucket, safe='')}/o/{quote(src_key, safe='')}"
        dst = f"/b/{quote(unquote(bucket), safe='')}/o/{quote(unquote(key), safe='')}"
        resp, conn = self._call("POST", f"{src}/copyTo{dst}", b"{}", _JSON)
        self._reply_with_object(resp, conn)

    def _reply_with_object(
        self, resp: http.client.HTTPResponse, conn: http.client.HTTPConnection
    ) -> None:
        data = resp.read()
        conn.close()
        if resp.status != 200:
            return self._reply(
                resp.status, data, {"Content-Type": resp.getheader("Content-Type", "")}
            )
        meta = json.loads(data)
        headers = {"ETag": f'"{meta["etag"]}"', "x-goog-generation": str(meta["generation"])}
        copy_result = f"<CopyObjectResult><ETag>{meta['etag']}</ETag></CopyObjectResult>"
        return self._reply(200, copy_result.encode(), {**headers, **_XML})

    def _initiate(self) -> None:
        self._body()
        upload_id = uuid.uuid4().hex
        with _LOCK:
            _UPLOADS[upload_id] = {}
        xml = f"<InitiateMultipartUploadResult><UploadId>{upload_id}</UploadId>"
        self._reply(200, f"{xml}</InitiateMultipartUploadResult>".encode(), _XML)

    def _part(self, upload_id: str, number: int) -> None:
        data = self._body()
        with _LOCK:
            if upload_id not in _UPLOADS:
                return self._error(404, "NoSuchUpload", upload_id)
            _UPLOADS[upload_id][number] = data
        self._reply(200, headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    def _complete(self, path: str, upload_id: str) -> None:
        listed = [int(n) for n in re.findall(rb"<PartNumber>(\d+)</PartNumber>", self._body())]
        with _LOCK:
            parts = _UPLOADS.pop(upload_id, None)
        if parts is None:
            return self._error(404, "NoSuchUpload", upload_id)
        body = b"".join(parts[n] for n in (listed or sorted(parts)))
        resp, conn = self._call("PUT", f"{path}?X-Goog-Algorithm=shim", body, _OCTET)
        data = resp.read()
        conn.close()
        if resp.status != 200:
            return self._reply(resp.status, data)
        meta = json.loads(data)
        xml = f"<CompleteMultipartUploadResult><ETag>{meta['etag']}</ETag>"
        headers = {"x-goog-generation": str(meta["generation"]), **_XML}
        return self._reply(200, f"{xml}</CompleteMultipartUploadResult>".encode(), headers)

    # -- everything else --------------------------------------------------------------------
    def _proxy(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        resp, conn = self._call(self.command, self.path, self._body() or None, headers)
        if resp.status == 500 and self.command == "GET":
            data = resp.read()
            conn.close()
            if b"no bucket named" in data:  # real GCS answers 404 NoSuchBucket (no retries)
                return self._error(404, "NoSuchBucket", "The specified bucket does not exist.")
            content_type = resp.getheader("Content-Type", "text/plain")
            return self._reply(resp.status, data, {"Content-Type": content_type})
        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        data = b"" if self.command == "HEAD" else resp.read()
        length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        self.wfile.write(data)
        conn.close()


_XML = {"Content-Type": "application/xml"}
_JSON = {"Content-Type": "application/json"}
_OCTET = {"Content-Type": "application/octet-stream"}


def make_server(port: int, upstream_url: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Build (not start) a shim on ``host:port`` forwarding to ``upstream_url``."""
    up = urlsplit(upstream_url)
    handler = type("BoundShimHandler", (ShimHandler,), {"upstream": (up.hostname, up.port)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    make_server(int(sys.argv[1]), sys.argv[2]).serve_forever()
