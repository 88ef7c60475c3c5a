"""Report declarations: the send rule and the outputs a report may declare."""

from __future__ import annotations

import pytest

from lib.errors import ConfigError
from runner.declarations import load
from tests.fixtures.runner import DECLARATION


def _write(tmp_path, extra: str = "", outputs: str | None = None):
    text = DECLARATION.format(notebook="t.ipynb", fan_out="retailer", timeout=60, policy="bdm")
    if outputs:
        text = text.replace("outputs: [report_html, email_html]", f"outputs: {outputs}")
    path = tmp_path / "t.yaml"
    path.write_text(text + extra)
    return path


def test_send_when_defaults_to_always(tmp_path):
    assert load(_write(tmp_path)).send_when == "always"
    assert load(_write(tmp_path, "send_when: activity\n")).send_when == "activity"


def test_unknown_send_rule_names_the_field(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(_write(tmp_path, "send_when: sometimes\n"))
    assert "send_when" in str(err.value) and "t.yaml" in str(err.value)


def test_every_output_format_is_declarable(tmp_path):
    decl = load(_write(tmp_path, outputs="[report_html, email_html, pipeline_csv, pipeline_xlsx]"))
    assert decl.outputs[-2:] == ("pipeline_csv", "pipeline_xlsx")
