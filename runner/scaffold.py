"""``broadsheet new``: a runnable notebook and its parameter file for a new report.

The scaffold is the smallest real report: a ``parameters`` cell of literal defaults, the
standard imports, the target's figures, commentary, ``publish`` and a KPI block, so an
analyst starts from something that runs under the runner and in JupyterLab alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat import v4

from lib.errors import ConfigError, InputError
from lib.settings import Settings

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

_TARGET = {
    "retailer": ("report.retailer_target(snap, target)", "retailer", "retailer Salesforce Id"),
    "bdm": ("report.bdm_target(snap, target)", "bdm", "BDM Salesforce user Id"),
    "none": ('report.Target("none", "all", "All retailers")', "smt", "unused: the whole book"),
}

_SCHEDULE = {"retailer": "0 7 * * 1", "bdm": "30 7 * * 1", "none": "0 8 * * 1"}
_RECIPIENTS = {
    "retailer": "  policy: retailer_contact",
    "bdm": "  policy: bdm",
    "none": "  policy: list\n  addresses: [reports@larkspur-finance.example]",
}


def _cells(fan_out: str, name: str) -> list[nbformat.NotebookNode]:
    pick, audience, target_help = _TARGET[fan_out]
    parameters = v4.new_code_cell(
        'snapshot = ""  # snapshot directory (empty: the demo snapshot)\n'
        'as_of = ""  # last complete day of data, YYYY-MM-DD (empty: yesterday)\n'
        f'target = ""  # {target_help}\n'
        'windows = ["LW", "MTD", "QTD", "YTD"]\n'
        "fiscal_year_start_month = 1\n"
        'thresholds = {"pct": 0.05, "pp": 0.02}\n'
        'cache_dir = ""  # commentary cache directory (empty: no cache)'
    )
    parameters.metadata.tags = ["parameters"]
    return [
        parameters,
        v4.new_code_cell(
            "from lib import blocks, charts, commentary, report\nfrom lib import figures as published"
        ),
        v4.new_code_cell(
            "snap, day = report.open_snapshot(snapshot, as_of)\n"
            f"who = {pick}\n"
            "data = report.scope(snap, who)  # only what this target may see\n"
            f'fig = report.figures("{name}", data, who, day, windows, '
            "fiscal_year_start_month=fiscal_year_start_month)\n"
            "limits = blocks.thresholds(thresholds)\n"
            'm = fig["metrics"]'
        ),
        v4.new_code_cell(
            'sections = [commentary.Section("summary", "Last week", commentary.facts_from_figures(\n'
            '    m, ["submissions", "approval_rate", "paid_value"], "LW", "LW_prev", limits))]\n'
            f'fig["commentary"] = commentary.write(sections, "{audience}", subject=who.name,\n'
            "                                     settings=commentary.Settings.from_env(cache_dir or None))\n"
            "fig = published.publish(fig)"
        ),
        v4.new_markdown_cell("## At a glance"),
        v4.new_code_cell(
            'blocks.kpi_bar(m, [("submissions", "LW"), ("approval_rate", "LW"), ("paid_value", "LW")],\n'
            '               limits=limits, as_of=fig["as_of"])'
        ),
        v4.new_code_cell('blocks.commentary(fig["commentary"], "summary")'),
        v4.new_code_cell(
            'blocks.period_table(m, ["submissions", "approval_rate", "paid_value"], windows, limits=limits)'
        ),
    ]


def create(
    name: str, fan_out: str, settings: Settings, *, force: bool = False
) -> tuple[Path, Path]:
    """Write ``notebooks/<name>.ipynb`` and ``parameters/<name>.yaml``.

    Raises:
        InputError: the name is not a lower-case identifier, or the fan-out is unknown.
        ConfigError: a file exists already (and ``force`` is not set).
    """
    if not _NAME.match(name):
        raise InputError(
            f"report name {name!r}: use lower case letters, digits and _ (e.g. weekly_lenders)"
        )
    if fan_out not in _TARGET:
        raise InputError(f"--fan-out {fan_out!r}: expected retailer, bdm or none")
    notebook = settings.notebooks_dir / f"{name}.ipynb"
    declaration = settings.parameters_dir / f"{name}.yaml"
    for path in (notebook, declaration):
        if path.exists() and not force:
            raise ConfigError("already exists; choose another name or pass --force", file=path)
    nb = v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = _cells(fan_out, name)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, notebook)
    title = name.replace("_", " ").capitalize()
    subject = "{title}: {target_name}, {period}" if fan_out != "none" else "{title}, {period}"
    declaration.write_text(
        f"# {title}: created by `broadsheet new`; edit freely.\n"
        f"title: {title}\n"
        f"notebook: {name}.ipynb\n"
        f'schedule: "{_SCHEDULE[fan_out]}"\n'
        f"fan_out: {fan_out}\n"
        "outputs: [report_html, email_html]\n"
        "timeout: 300\n"
        f'subject: "{subject}"\n'
        "recipients:\n"
        f"{_RECIPIENTS[fan_out]}\n"
        "enabled: true\n"
        "windows: [LW, MTD, QTD, YTD]\n"
        "parameters:\n"
        "  fiscal_year_start_month: 1\n"
        "  thresholds: {pct: 0.05, pp: 0.02}\n",
        encoding="utf-8",
    )
    return notebook, declaration
