"""A tiny Kubernetes API server on 127.0.0.1 for the in-pod Longhorn chores (longhorn_jobs.py).

It keeps objects in memory by path and answers as the API server does (k8s.io/apimachinery REST
semantics): GET an object or a list (``labelSelector`` of ``k=v`` terms), POST creates (409 when the
name is taken), PUT replaces, DELETE removes (404 when absent); errors are ``Status`` objects with a
``message``. Every request needs the bearer token. Two controllers stand in for the cluster:
Longhorn marks a new Snapshot ready, and the Job controller "runs" a check Job by calling
``run_check(job)``, which returns the container's exit code and termination message, and then
records a finished Job and its pod.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.quick_stop import QuickStopServer

COLLECTIONS = {
    "persistentvolumeclaims",
    "jobs",
    "pods",
    "configmaps",
    "storageclasses",
    "backups",
    "volumes",
    "snapshots",
}
RunCheck = Callable[[dict[str, Any]], tuple[int, str]]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeKubeApi:
    def __init__(self, token: str, run_check: RunCheck | None = None, snapshot_error: str = "") -> None:
        self.token = token
        self.run_check = run_check
        self.snapshot_error = snapshot_error
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length", 0))
                return json.loads(self.rfile.read(length)) if length else None

            def _answer(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                body = self._body() if method in ("POST", "PUT", "DELETE") else None
                owner.requests.append((method, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {owner.token}":
                    self._answer(401, _status(401, "Unauthorized", "Unauthorized"))
                    return
                with owner.lock:
                    code, payload = owner.serve(method, self.path, body)
                self._answer(code, payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = QuickStopServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- state ------------------------------------------------------------------------------------

    def put(self, collection: str, obj: dict[str, Any]) -> None:
        """Seed an object (what the cluster already holds)."""
        self.objects[f"{collection}/{obj['metadata']['name']}"] = obj

    def get(self, path: str) -> dict[str, Any] | None:
        return self.objects.get(path)

    def created(self, kind: str) -> list[dict[str, Any]]:
        return [body for method, _, body in self.requests if method == "POST" and body and body.get("kind") == kind]

    def deleted(self) -> list[str]:
        return [urlsplit(path).path for method, path, _ in self.requests if method == "DELETE"]

    # --- the API ----------------------------------------------------------------------------------

    def serve(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/")
        is_collection = path.rsplit("/", 1)[-1] in COLLECTIONS
        if method == "GET" and is_collection:
            selector = parse_qs(parts.query).get("labelSelector", [""])[0]
            items = [o for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path and _matches(o, selector)]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        if method == "GET":
            obj = self.objects.get(path)
            if obj is None:
                return 404, _status(404, "NotFound", f'{path.rsplit("/", 2)[-2]} "{path.rsplit("/", 1)[-1]}" not found')
            self._progress(path, obj)
            return 200, obj
        if method == "POST" and is_collection:
            name = body["metadata"]["name"]
            if f"{path}/{name}" in self.objects:
                return 409, _status(409, "AlreadyExists", f'{path.rsplit("/", 1)[-1]} "{name}" already exists')
            stored = json.loads(json.dumps(body))
            stored["metadata"].setdefault("uid", f"uid-{len(self.objects)}")
            self.objects[f"{path}/{name}"] = stored
            self._created(path, stored)
            return 201, stored
        if method == "PUT":
            if path not in self.objects:
                return 404, _status(404, "NotFound", "not found")
            self.objects[path] = json.loads(json.dumps(body))
            return 200, self.objects[path]
        if method == "DELETE":
            if self.objects.pop(path, None) is None:
                return 404, _status(404, "NotFound", f'"{path.rsplit("/", 1)[-1]}" not found')
            if path.split("/")[-2] == "jobs":  # background propagation: the Job's pods go too
                name = path.rsplit("/", 1)[-1]
                for key in [k for k, o in self.objects.items() if _labels(o).get("job-name") == name]:
                    del self.objects[key]
            return 200, {"kind": "Status", "status": "Success"}
        return 405, _status(405, "MethodNotAllowed", f"{method} {path}")

    def _created(self, path: str, obj: dict[str, Any]) -> None:
        kind = path.rsplit("/", 1)[-1]
        if kind == "jobs" and self.run_check is not None:
            code, message = self.run_check(obj)
            name = obj["metadata"]["name"]
            namespace = obj["metadata"]["namespace"]
            obj["status"] = {"succeeded": 1} if code == 0 else {"failed": 1}
            terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "message": message}
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-x7k2q", "namespace": namespace, "labels": {"job-name": name}},
                "status": {
                    "phase": "Succeeded" if code == 0 else "Failed",
                    "containerStatuses": [{"name": "check", "state": {"terminated": terminated}}],
                },
            }
            self.objects[f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}"] = pod
        if kind == "persistentvolumeclaims":
            obj["status"] = {"phase": "Bound"}

    def _progress(self, path: str, obj: dict[str, Any]) -> None:
        """Longhorn takes a snapshot between two reads of it."""
        if path.split("/")[-2] == "snapshots" and "status" not in obj:
            obj["status"] = {"readyToUse": False, "creationTime": ""}
        elif path.split("/")[-2] == "snapshots" and not obj["status"].get("readyToUse"):
            if self.snapshot_error:
                obj["status"]["error"] = self.snapshot_error
            else:
                obj["status"] = {"readyToUse": True, "creationTime": "2026-11-28T09:00:00Z", "size": 104857600}


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = _labels(obj)
    return all(labels.get(k) == v for k, _, v in (t.partition("=") for t in selector.split(",") if t))
