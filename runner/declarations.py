"""Report declarations: ``parameters/<report>.yaml``, validated, one per report.

A report is a notebook plus one of these files; the file's stem is the report's name.
Discovery reads the directory, so adding a report edits no list anywhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lib import formatting, periods, products
from lib.errors import ConfigError
from lib.registry import Registry

FanOut = Literal["none", "retailer", "bdm"]
OutputName = Literal["report_html", "email_html", "docx", "pdf", "pipeline_csv", "pipeline_xlsx"]

_DURATION = re.compile(
    r"^(\d+)\s*(minutes?|mins?|hours?|h|days?|d|weeks?|w|months?|mo)$", re.IGNORECASE
)
_UNITS = {"min": "minutes", "h": "hours", "d": "days", "w": "weeks", "mo": "months"}
DEFAULT_CATCH_UP_CAP = timedelta(days=7)
"""Without ``catch_up``, a missed run is caught up until its next run is due, at most this late."""
DEFAULT_RETENTION = {"weekly": "26 weeks", "monthly": "25 months"}
"""Without ``retention``: half a year of weekly runs; two years and a month of board packs
(a year-on-year comparison can always be checked against the pack it compares with)."""

When = TypeVar("When", date, datetime)


def parse_duration(text: str) -> tuple[int, str]:
    """``"26 weeks"`` -> ``(26, "weeks")``; units: minutes, hours, days, weeks, months
    (``min``, ``h``, ``d``, ``w``, ``mo`` for short).

    Raises:
        ValueError: not a whole number and one of those units.
    """
    match = _DURATION.match(" ".join(str(text).split()))
    if not match:
        raise ValueError(
            f"{text!r} is not a duration such as '36 hours', '7 days', '26 weeks' or '25 months'"
        )
    unit = match.group(2).lower()
    unit = next((full for short, full in _UNITS.items() if unit in (short, full, full[:-1])), unit)
    if unit.startswith("min"):
        unit = "minutes"
    return int(match.group(1)), unit


def before(moment: When, duration: str) -> When:
    """``moment`` minus ``duration``; months are calendar months (31 March - 1 month is 28/29 Feb)."""
    n, unit = parse_duration(duration)
    if unit != "months":
        return moment - timedelta(**{unit: n})
    months = moment.year * 12 + moment.month - 1 - n
    year, month = divmod(months, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def _duration_or_false(value: Any) -> Any:
    if value is None or value is False:
        return value
    if value is True:
        raise ValueError("must be a duration such as '36 hours', or false")
    parse_duration(str(value))
    return str(value)


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")
_FIRST_WORKING_DAY = re.compile(r"^first-working-day ([01]\d|2[0-3]):([0-5]\d)$")


class Recipients(BaseModel):
    """Who receives each output.

    ``retailer_contact``: the retailer's primary contact plus admin-set extras;
    ``bdm``: the BDM's own address; ``list``: the addresses in ``addresses`` (the board
    and SMT lists; the admin dashboard's lists take precedence once set).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["retailer_contact", "bdm", "list"]
    addresses: tuple[str, ...] = ()
    list: Literal["board", "smt"] | None = Field(
        None, description="the admin list that replaces `addresses` once it is set there"
    )


class Declaration(BaseModel):
    """One report, as declared in ``parameters/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the file's stem; set by the loader, not the file")
    title: str
    description: str = ""
    notebook: str = Field(description="notebook file name, relative to notebooks/")
    schedule: str = Field(description="5-field cron expression or 'first-working-day HH:MM'")
    fan_out: FanOut
    outputs: tuple[OutputName, ...] = ("report_html", "email_html")
    timeout: int = Field(600, gt=0, description="seconds per target")
    subject: str = Field(description="format string: {title} {target_name} {as_of} {period}")
    recipients: Recipients
    enabled: bool = True
    send_when: Literal["always", "activity"] = Field(
        "always",
        description="activity: skip a target whose main window (the first of windows) "
        "saw no application and whose pipeline is empty; the skip is recorded in run.json",
    )
    windows: tuple[str, ...] = ("LW", "MTD", "QTD", "YTD")
    parameters: dict[str, Any] = Field(default_factory=dict)
    catch_up: str | bool | None = Field(
        None,
        description="how late a missed scheduled run is still caught up ('36 hours', "
        "'7 days'), or false for never; default until the next run is due, at most 7 days",
    )
    retention: str | None = Field(
        None,
        description="how long run folders, test sends and outbox files are kept ('26 weeks', "
        "'25 months'); default 26 weeks, or 25 months for a monthly report",
    )

    @field_validator("catch_up")
    @classmethod
    def _catch_up(cls, value: Any) -> Any:
        return _duration_or_false(value)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, bool):
            raise ValueError("must be a duration such as '26 weeks' or '25 months'")
        parse_duration(str(value))
        return str(value)

    @property
    def monthly(self) -> bool:
        """A report of whole months (the board pack)."""
        return "M" in self.windows

    @property
    def kept_for(self) -> str:
        """``retention``, or its default."""
        return self.retention or DEFAULT_RETENTION["monthly" if self.monthly else "weekly"]

    @field_validator("schedule")
    @classmethod
    def _schedule_shape(cls, value: str) -> str:
        if _FIRST_WORKING_DAY.match(value):
            return value
        fields = value.split()
        if len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields):
            return value
        raise ValueError(
            "must be a 5-field cron expression (e.g. '0 7 * * 1') or 'first-working-day HH:MM'"
        )

    @field_validator("outputs")
    @classmethod
    def _pdf_after_docx(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "pdf" in value and ("docx" not in value or value.index("docx") > value.index("pdf")):
            raise ValueError("pdf is converted from the Word file: list docx before pdf")
        return value

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        try:
            value.format(title="t", target_name="n", as_of="2026-01-01", period="p")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"unknown placeholder {err}; use {{title}}, {{target_name}}, {{as_of}}, {{period}}"
            ) from None
        return value


def _check_parameters(decl: Declaration, path: Path) -> None:
    """The parameters every report shares are checked here, before any kernel starts."""
    params = decl.parameters
    try:
        if "fiscal_year_start_month" in params:
            field = "parameters.fiscal_year_start_month"
            periods.check_fiscal_year_start_month(params["fiscal_year_start_month"])
        if "thresholds" in params:
            field = "parameters.thresholds"
            if not isinstance(params["thresholds"], dict):
                raise ConfigError("must be a mapping like {pct: 0.05, pp: 0.02}")
            formatting.Thresholds(**params["thresholds"])
        for family, rate in (params.get("commission_rates") or {}).items():
            field = f"parameters.commission_rates.{family}"
            if family not in products.FAMILIES:
                raise ConfigError(
                    f"unknown product family; did you mean one of: {', '.join(products.FAMILIES)}"
                )
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise ConfigError(f"must be a fraction from 0 to 1 (0.015 is 1.5 %), got {rate!r}")
    except ConfigError as err:
        raise ConfigError(err.detail, file=path, field=field) from None
    except TypeError as err:  # Thresholds(**{...}) with an unknown key
        raise ConfigError(str(err), file=path, field=field) from None


def load(path: Path) -> Declaration:
    """Read and validate one declaration file.

    Raises:
        ConfigError: naming the file and the first offending field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ConfigError(
            f"not valid YAML ({getattr(err, 'problem', err)})", file=path, field=where
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping of fields", file=path)
    if "name" in raw:
        raise ConfigError(
            "the report name is the file's stem; remove this field", file=path, field="name"
        )
    try:
        decl = Declaration(name=path.stem, **raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown field"
        raise ConfigError(msg, file=path, field=field) from None
    _check_parameters(decl, path)
    return decl


def discover(parameters_dir: Path) -> Registry[Declaration]:
    """Every ``*.yaml`` under ``parameters_dir``, validated, registered by stem."""
    registry: Registry[Declaration] = Registry("report")
    for path in sorted(parameters_dir.glob("*.yaml")):
        registry.register(path.stem, load(path))
    return registry
