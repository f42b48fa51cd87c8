"""Public HTML pages citizens see (a form, its receipt, the status page), in one look.

The toolkit holds the shared layout (``base.html.j2``) and the error and thank-you pages;
a package adds its own templates in a ``templates`` folder and renders through
``PublicPages(package)``, whose templates may extend ``base.html.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web


@dataclass(frozen=True)
class PublicBranding:
    """What every public page shows of the municipality: its name, its logo (a ``data:``
    URI, so the page needs no other address), and the privacy notice's contact and
    retention sentence."""

    municipality: str = "Pemerintah Daerah"
    logo: str | None = None
    privacy_contact: str | None = None
    retention: str = "selama pengaduan ditangani"

    def context(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "logo": self.logo,
            "privacy_contact": self.privacy_contact,
            "retention": self.retention,
        }


class PublicPages:
    def __init__(self, package: str, folder: str = "templates") -> None:
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.PackageLoader(package, folder),
                    jinja2.PackageLoader("connectors.base", "templates"),
                ]
            ),
            autoescape=jinja2.select_autoescape(["html", "j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self, name: str, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any
    ) -> web.Response:
        for key, value in PublicBranding().context().items():
            ctx.setdefault(key, value)
        html = self.env.get_template(name).render(**ctx)
        # Cache, frame and content-security headers come from the core (web/security.py),
        # for every page the daemon serves.
        return web.Response(
            text=html, status=status, content_type="text/html", charset="utf-8", headers=headers
        )
