"""Output formats: an executed notebook in, files in the target's directory out.

One registry of formats (``report_html``, ``email_html``; ``docx``, ``pdf``,
``pipeline_csv`` and ``pipeline_xlsx`` register beside them),
like nbconvert's exporters. HTML formats are nbconvert exporters with our template
directories under ``runner/render/templates``; code is hidden by configuration, not by forking
templates. Exporters are built once per process and reused for every target.
"""

from __future__ import annotations

import base64
import functools
import re
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import css_inline
import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExtractOutputPreprocessor
from nbconvert.utils.base import NbConvertBase
from traitlets.config import Config

from lib.blocks import base as blocks_base
from lib.contract import EMAIL_MIME, PLOTLY_MIME
from lib.registry import Registry
from runner.outputs import write_atomic
from runner.render.docx.document import Docx
from runner.render.lists import PipelineCsv, PipelineXlsx
from runner.render.pdf import Pdf
from runner.render.plaintext import html_to_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
BLOCK_TEMPLATES = blocks_base.TEMPLATES


@dataclass(frozen=True)
class RenderContext:
    """What a format needs besides the notebook: where to write and the page header."""

    target_dir: Path
    report: str
    title: str
    target_name: str
    as_of: str
    period: str
    generated_at: str
    company: str = "Broadsheet"
    extra: dict = field(default_factory=dict)

    def metadata(self) -> dict:
        return {
            "report": self.report,
            "title": self.title,
            "target_name": self.target_name,
            "as_of": self.as_of,
            "period": self.period,
            "generated_at": self.generated_at,
            "company": self.company,
        }


class OutputFormat(Protocol):
    """Turns an executed notebook into files in ``ctx.target_dir``; returns their paths."""

    name: str

    def render(self, nb: nbformat.NotebookNode, ctx: RenderContext) -> list[Path]: ...


def _html_config() -> Config:
    c = Config()
    c.TemplateExporter.exclude_input = True
    c.TemplateExporter.exclude_input_prompt = True
    c.TemplateExporter.exclude_output_prompt = True
    c.HTMLExporter.exclude_anchor_links = True
    c.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    # Macros and the shared page are imported by path: "broadsheet_base/page.html.j2".
    c.TemplateExporter.extra_template_paths = [str(TEMPLATES), str(BLOCK_TEMPLATES)]
    # Validate once, after the last preprocessor, rather than after each of them: the
    # notebook is the runner's own copy and validation is a large share of a render.
    c.Exporter.optimistic_validation = True
    return c


@functools.cache
def _exporter(template: str) -> HTMLExporter:
    c = _html_config()
    if template == "broadsheet_email":
        # Only outputs with an email form, PNG charts and markdown reach an email.
        c.NbConvertBase.display_data_priority = [EMAIL_MIME, "image/png", "text/markdown"]
        c.ExtractOutputPreprocessor.output_filename_template = (
            "chart-{cell_index}-{index}{extension}"
        )
        c.ExtractOutputPreprocessor.extract_output_types = {"image/png"}
    exporter = HTMLExporter(config=c, template_name=template)
    if template == "broadsheet_email":
        exporter.register_preprocessor(ExtractOutputPreprocessor(config=c), enabled=True)
    return exporter


@functools.cache
def _shown(template: str) -> frozenset[str]:
    """The MIME types the template's exporter can show: its data-type filter's priority."""
    return frozenset(NbConvertBase(parent=_exporter(template)).display_data_priority)


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_style_tags=False, keep_link_tags=False)


def _with_metadata(
    nb: nbformat.NotebookNode, ctx: RenderContext, keep: Collection[str] | None = None
) -> nbformat.NotebookNode:
    """A copy of ``nb`` (never alter the caller's) carrying the page header.

    Args:
        nb: the executed notebook.
        ctx: the target's render context.
        keep: if given, outputs keep only these MIME types: those the exporter can show
            (its ``display_data_priority``; nbconvert picks the first of them an output
            has, and nothing else). The rest is mostly JSON no template reads (published
            figures, Word tables, plotly's figure) that the exporter would otherwise
            deep-copy twice and validate on every render. The HTML is the same.
    """
    if keep is not None:
        nb = {**nb, "cells": [_only(cell, keep) for cell in nb.cells]}
    nb = nbformat.from_dict(nb)
    nb.metadata["broadsheet"] = ctx.metadata()
    return nb


def _only(cell: nbformat.NotebookNode, keep: Collection[str]) -> Mapping:
    if cell.get("cell_type") != "code" or not cell.get("outputs"):
        return cell
    outputs = [
        {**out, "data": {k: v for k, v in out["data"].items() if k in keep}}
        if "data" in out
        else out
        for out in cell["outputs"]
    ]
    return {**cell, "outputs": outputs}


def _has_plotly(nb: nbformat.NotebookNode) -> bool:
    return any(
        PLOTLY_MIME in out.get("data", {})
        or "Plotly.newPlot" in str(out.get("data", {}).get("text/html", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


class ReportHtml:
    """``report.html``: self-contained and interactive; opens offline from a file."""

    name = "report_html"
    filename = "report.html"

    def render(self, nb: nbformat.NotebookNode, ctx: RenderContext) -> list[Path]:
        exporter = _exporter("broadsheet_report")
        has_plotly = _has_plotly(nb)  # before the plotly JSON is left out
        nb = _with_metadata(nb, ctx, _shown("broadsheet_report"))
        body, _ = exporter.from_notebook_node(nb, resources={"broadsheet_has_plotly": has_plotly})
        path = ctx.target_dir / self.filename
        write_atomic(path, body)
        return [path]


_CID = re.compile(r'src="cid:([^"]+)"')


class EmailHtml:
    """``email.html`` + ``email.txt`` + the PNGs its ``cid:`` references name."""

    name = "email_html"
    filename = "email.html"

    def render(self, nb: nbformat.NotebookNode, ctx: RenderContext) -> list[Path]:
        exporter = _exporter("broadsheet_email")
        nb = _with_metadata(nb, ctx, _shown("broadsheet_email"))
        with warnings.catch_warnings():
            # Outputs without an email form (the published figures) are meant to be dropped.
            warnings.filterwarnings(
                "ignore", message="Your element with mimetype", category=UserWarning
            )
            body, resources = exporter.from_notebook_node(nb)
        body = _inliner().inline(body)
        written: list[Path] = []
        extracted = resources.get("outputs", {})
        for name in dict.fromkeys(_CID.findall(body)):
            data = extracted.get(name)
            if data is None:
                raise ValueError(f"email.html names cid:{name} but no such image was extracted")
            written.append(write_atomic(ctx.target_dir / name, data))
        path = ctx.target_dir / self.filename
        write_atomic(path, body)
        text = ctx.target_dir / "email.txt"
        write_atomic(text, html_to_text(body))
        return [path, text, *written]


def png_data_uri(data: str | bytes) -> str:
    """A PNG as a data URI (for report.html, where images are inline)."""
    if isinstance(data, bytes):
        data = base64.b64encode(data).decode()
    return f"data:image/png;base64,{data}"


FormatFactory = Callable[[], OutputFormat]


def register_builtin_formats(registry: Registry[OutputFormat]) -> None:
    """Register the HTML formats, the Word pack, its PDF and the pipeline lists."""
    registry.register(ReportHtml.name, ReportHtml())
    registry.register(EmailHtml.name, EmailHtml())
    registry.register(Docx.name, Docx())
    registry.register(Pdf.name, Pdf())
    registry.register(PipelineCsv.name, PipelineCsv())
    registry.register(PipelineXlsx.name, PipelineXlsx())


def formats() -> Registry[OutputFormat]:
    """A registry with every built-in output format."""
    registry: Registry[OutputFormat] = Registry("output format")
    register_builtin_formats(registry)
    return registry
