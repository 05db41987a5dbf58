"""The dashboard's guards: the access token (in the URL it opens, then a cookie), the Host header (against DNS
rebinding), the CSRF token every action carries, and headers that keep the page on 127.0.0.1 (no CDN, no network).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "provider_router_dashboard"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Secrets:
    """The access token of this run and the CSRF token derived from it."""

    token: str

    @classmethod
    def new(cls) -> Secrets:
        return cls(secrets.token_urlsafe(24))

    @property
    def csrf(self) -> str:
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()

    def is_token(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    def is_csrf(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.csrf.encode())


WILDCARDS = frozenset({"0.0.0.0", "::"})


def _is_ip_literal(host_header: str) -> bool:
    """`1.2.3.4:8000` or `[::1]:8000`: an address, never a name a DNS-rebinding attack could point here."""
    name = host_header.rsplit(":", 1)[0].strip("[]")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def cookie_for(port: int) -> str:
    """The token cookie of the dashboard on `port` (another dashboard on another port keeps its own)."""
    return f"{COOKIE}_{port}"


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host headers a browser sends to this server: the bound address (and localhost for loopback)."""
    names = {host}
    if host in ("127.0.0.1", "localhost", "::1", *WILDCARDS):
        names |= {"127.0.0.1", "localhost"}
    return frozenset(f"{name}:{port}" for name in names) | frozenset(f"[{name}]:{port}" for name in names)


class Guard:
    """ASGI middleware: refuse other Host headers (421), ask for the token (401), set it as a cookie."""

    def __init__(
        self, app: ASGIApp, secret: Secrets, hosts: Iterable[str], *, any_address: bool = False, cookie: str = COOKIE
    ) -> None:
        self.app = app
        #: the cookie's name: browsers share cookies across ports, so each port's dashboard names its own
        self.cookie = cookie
        self.secret = secret
        self.hosts = frozenset(hosts)
        #: bound to every interface (--host 0.0.0.0): any address literal is this server, a DNS name never is
        self.any_address = any_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._refusal(request)
        if response is None:
            await self.app(scope, receive, self._with_headers(send))
        else:
            await response(scope, receive, self._with_headers(send))

    def _refusal(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if host not in self.hosts and not (self.any_address and _is_ip_literal(host)):
            return PlainTextResponse("This dashboard answers only on its own address (Host refused).", 421)
        given = request.query_params.get("token")
        if self.secret.is_token(given):
            # the token moves to a cookie and out of the address bar (and out of shared links)
            clean = URL(str(request.url)).remove_query_params("token")
            redirect = RedirectResponse(str(clean.replace(scheme="", netloc="")) or "/", status_code=303)
            redirect.set_cookie(self.cookie, self.secret.token, httponly=True, samesite="strict", path="/")
            return redirect
        if not self.secret.is_token(request.cookies.get(self.cookie)):
            return PlainTextResponse(
                "401: open the dashboard with the URL `provider-router dashboard` printed (it carries the token).",
                401,
            )
        return None

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        return sending


def same_origin(request: Request) -> bool:
    """The request's Origin (when the browser sends one) is this server."""
    origin = request.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == request.headers.get("host")


def csrf_ok(request: Request, form_value: str | None, secret: Secrets) -> bool:
    """An action's CSRF token matches, and its Origin (when the browser sends one) is this server."""
    return same_origin(request) and secret.is_csrf(form_value)
