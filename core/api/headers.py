"""Security headers on every answer: a Content-Security-Policy, nosniff, no framing, a referrer policy.

The policy lets a page run scripts from this site only, plus an inline script carrying the
page's nonce (``csp_nonce``), so a script smuggled into a page by data (a label holding
``</script><script>``, say) does not run even where escaping was forgotten. The UI's own
pages have no inline script, no inline event handler and no inline style: their behaviour
lives in static files.
"""

from __future__ import annotations

import secrets

from litestar.types import Message, Scope

NONCE_KEY = "tessera.csp_nonce"
POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
FIXED = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def csp_nonce(scope: Scope) -> str:
    """This request's script nonce, made on first use; a plugin's page puts it on an inline script as nonce="..."."""
    nonce = scope.get(NONCE_KEY)
    if nonce is None:
        nonce = scope[NONCE_KEY] = secrets.token_urlsafe(18)  # type: ignore[literal-required]
    return nonce


async def security_headers(message: Message, scope: Scope) -> None:
    """A before_send hook: the app's every response, errors and static files included, gets the headers."""
    if message["type"] != "http.response.start":
        return
    # Appended as raw pairs: no response of the app sets these itself, and a lookup per header costs more.
    policy = (b"content-security-policy", POLICY.format(nonce=csp_nonce(scope)).encode())
    message["headers"] = [*message.get("headers", ()), policy, *FIXED]
