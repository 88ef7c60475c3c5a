"""The contracts between a notebook and the runner: every MIME type a notebook output may
carry, and the one :class:`Target` type.

Notebooks publish more than they show: alongside the HTML a reader sees, outputs carry
structured payloads that the runner turns into ``figures.json``, the email body and the
Word pack. Both sides (the ``lib`` helpers that write them and the ``runner`` formats that
read them) take the names from here, so a payload can never be written under one name and
looked for under another.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The report's published numbers (``lib.figures.publish``); no template renders it.
FIGURES_MIME = "application/vnd.broadsheet.figures+json"
#: A display block's table as structured cells, for Word's native tables.
TABLE_MIME = "application/vnd.broadsheet.table+json"
#: A display block's email form (no script, 640 px tables); email.html shows this instead
#: of the interactive ``text/html``.
EMAIL_MIME = "application/vnd.broadsheet.email+html"
#: Paragraphs (commentary, notes) for the Word pack, so it never parses HTML back.
TEXT_MIME = "application/vnd.broadsheet.text+json"
#: A chart's data for the Word pack, which redraws it at print resolution.
CHART_MIME = "application/vnd.broadsheet.chart+json"
#: plotly's own figure JSON: JupyterLab's plotly extension draws it; templates ignore it.
PLOTLY_MIME = "application/vnd.plotly.v1+json"


@dataclass(frozen=True)
class Target:
    """Who a report is for: a retailer, a BDM, or the whole book (``kind`` ``none``).

    The one target type: the runner fans out to these (with the contact ``email`` it
    delivers to) and a notebook rebuilds its own from the snapshot (without one).
    ``email`` never reaches ``figures.json``.
    """

    kind: str  # "retailer", "bdm" or "none"
    id: str
    name: str
    email: str | None = None

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "name": self.name}
