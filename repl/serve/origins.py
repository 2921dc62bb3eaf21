"""Who may talk to `seq2seq-serve`: the Host a request names, and the page a form post comes from.

A server on 127.0.0.1 is reachable by every web page its user opens: a page can post a form to it
(a "simple" request: no CORS preflight), and a page on a name that the attacker re-points at
127.0.0.1 (DNS rebinding) can even read the answers. Two checks, made before a body is read:

- **Host**: the request's Host must be one of this server's names: localhost, 127.0.0.1, ::1, the
  address it is bound to, and `--allowed-hosts` (`*` turns the check off). A server bound to every
  address (0.0.0.0 or ::) also answers any IP address; a DNS name must be allowed by name.
  Otherwise 403.
- **Cross-site forms**: a form or multipart POST whose Origin is not this server's own, nor one
  `--cors-origins` allows, is refused with 403 (so is one that a browser marks
  `Sec-Fetch-Site: cross-site`, or with Origin `null`). JSON posts from other origins are already
  stopped by the browser's preflight unless `--cors-origins` allows them; clients that are not
  browsers (curl, editor plugins) send no Origin and are not affected.
"""

from __future__ import annotations

import ipaddress
import json

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def host_name(host: str) -> str:
    """The name in a Host header or an origin's authority, without its port ("[::1]:5000" → "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class AllowedHosts:
    def __init__(self, bound: str, extra=()):
        extra = [host_name(h) for h in extra]
        self.anything = "*" in extra
        self.any_ip = host_name(bound) in WILDCARDS
        self.names = {*LOCAL_NAMES, host_name(bound), *extra}

    def allows(self, host: str) -> bool:
        name = host_name(host)
        return self.anything or name in self.names or (self.any_ip and _is_ip(name))


class OriginGuard:
    """ASGI middleware: the two checks of the module's doc, before anything else reads the request."""

    def __init__(self, app, hosts: AllowedHosts, cors_origins=()):
        self.app, self.hosts = app, hosts
        self.cors = {o.rstrip("/").lower() for o in cors_origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self.hosts.allows(host):
            return await _refuse(send, f"Host {host_name(host)!r} is not this server's; start it with --allowed-hosts {host_name(host) or 'NAME'} to answer it")
        if scope["method"] == "POST" and headers.get("content-type", "").split(";")[0].strip().lower() in FORM_TYPES:
            origin = headers.get("origin")
            if not self._same_or_allowed(origin, host, headers.get("sec-fetch-site")):
                return await _refuse(send, f"a form posted from {origin or 'another site'} is refused; start the server with --cors-origins to allow that origin")
        return await self.app(scope, receive, send)

    def _same_or_allowed(self, origin: str | None, host: str, fetch_site: str | None) -> bool:
        if "*" in self.cors:
            return True
        if origin is None:
            return fetch_site != "cross-site"
        origin = origin.rstrip("/").lower()
        if origin in self.cors:
            return True
        return origin != "null" and "://" in origin and origin.split("://", 1)[1] == host.strip().lower()


async def _refuse(send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
