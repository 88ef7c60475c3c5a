"""report.pdf: the Word board pack converted by LibreOffice headless, tagged."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pypdf
import pytest

from lib.errors import ConfigError
from runner.declarations import load
from runner.render import pdf
from tests.fixtures.runner import DECLARATION, WORKING_CELLS, make_notebook

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


def _section_headings() -> list[str]:
    nb = nbformat.read(NOTEBOOKS / "board_pack.ipynb", as_version=4)
    return [
        line[3:].strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]


@pytest.mark.slow
@pytest.mark.system("soffice")
def test_pdf_has_libreoffices_pages_and_every_section_heading(board_pack_run):
    path = board_pack_run.path("report.pdf")
    assert str(path) in board_pack_run.result.targets[0].files
    reader = pypdf.PdfReader(path)
    pages = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
    # LibreOffice reports the page count in every footer (Word's NUMPAGES field, which it
    # computes while laying the document out); the cover page has no footer.
    for number, page in enumerate(pages[1:], start=2):
        assert f"Page {number} of {len(pages)}" in page, number
    text = " ".join(pages)
    headings = _section_headings()
    assert len(headings) >= 10
    for heading in headings:
        assert heading in text, heading
    assert len(reader.pages) > len(headings)  # a page per section, and more
    # Tagged: a structure tree a screen reader can follow.
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root


def test_missing_soffice_is_exit_2_before_any_kernel(project, monkeypatch):
    monkeypatch.setattr(pdf, "soffice", lambda: None)
    project.add("tiny", make_notebook(WORKING_CELLS))
    path = project.settings.parameters_dir / "tiny.yaml"
    path.write_text(
        path.read_text().replace(
            "outputs: [report_html, email_html]", "outputs: [report_html, email_html, docx, pdf]"
        )
    )
    proc = project.invoke("run", "tiny", "--deliver", "none")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "tiny.yaml" in line and "outputs" in line
    assert "libreoffice-writer-nogui" in line and "soffice" in line
    assert not (project.settings.outputs / "tiny").exists()


def test_pdf_needs_docx_before_it(tmp_path):
    text = DECLARATION.format(
        notebook="t.ipynb", fan_out="none", timeout=60, policy="list"
    ).replace("outputs: [report_html, email_html]", "outputs: [report_html, pdf, docx]")
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(ConfigError, match="docx before pdf"):
        load(tmp_path / "t.yaml")
