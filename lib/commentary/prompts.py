"""The prompts of commentary: who reads, in what tone, under which rules, about which facts.

One system prompt per audience (:data:`AUDIENCES`), and one message per section holding
that section's facts and notes only, so a section's text cannot draw on another's.
"""

from __future__ import annotations

from lib import formatting as fmt
from lib.commentary.facts import Fact, Section
from lib.errors import UnknownNameError

AUDIENCES = ("retailer", "bdm", "smt", "board")


# How a window reads in a sentence. The previous window is always "the previous period":
# a fact does not record which window it was compared with (the board pack compares the
# month with both the month before and the same month last year).
WINDOWS = {
    "LW": "last week",
    "MTD": "this month to date",
    "QTD": "this quarter to date",
    "YTD": "this year to date",
    "M": "in the month",
    "as_at": "as at the report date",
}
DEFAULT_WINDOW = "this period"

_AUDIENCE_BRIEF = {
    "retailer": (
        "the staff of the retailer named below, reading their weekly report on the finance "
        "they offer their customers through us",
        "Friendly, direct and practical; address them as 'you'. Nudge where it helps: "
        "submitting more applications, a better approval rate (complete, accurate "
        "applications) and moving the pipeline on (approved applications waiting for the "
        "customer to sign, signed ones waiting for payout).",
    ),
    "bdm": (
        "the business development manager named below, who looks after the retailers in "
        "this portfolio",
        "Written for a relationship manager planning their week: call out volume drops, "
        "inactive retailers worth a call and pipeline opportunities to chase. Concise and "
        "action-oriented.",
    ),
    "smt": (
        "the senior management team, looking at the whole business",
        "Put business-wide trends in context: what moved, by how much, and how it compares "
        "with the previous period. Neutral and analytical; no advice to individual retailers.",
    ),
    "board": (
        "the board of directors, reading the monthly board pack",
        "Formal and measured, in the third person, as in a board paper: summarise this "
        "section's performance against the previous period. No exclamation marks and no "
        "operational instructions.",
    ),
}

_RULES = """\
Rules:
- Write 2 to 4 sentences of plain text: no markdown, headings, lists, greeting or sign-off.
- Use only the figures listed, as they are shown (rounding them is fine, e.g. £12,345 as \
£12.3k). Do not calculate, estimate or invent any other number, and do not mention dates.
- Write about the subject named; mention no retailer, lender, person or company that the \
message does not name.
- A figure shown as "–" is not available: you may say so, never guess it.
- The light compares the period with the previous one: green is good news, red is bad \
news, amber is little change. Where lower is better (such as time to decision) a fall is \
green."""


def check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise UnknownNameError("audience", audience, list(AUDIENCES))


def system_prompt(audience: str) -> str:
    """The system prompt for ``audience``: who reads, the tone, and the rules."""
    check_audience(audience)
    reader, tone = _AUDIENCE_BRIEF[audience]
    return (
        "You write the commentary for one section of a business report from a point-of-sale "
        "consumer-finance platform: retailers offer their customers finance at checkout, "
        "lenders approve or decline each application, the customer signs and the lender "
        f"pays out.\nReader: {reader}.\nTone: {tone}\n{_RULES}"
    )


def _fact_line(fact: Fact) -> str:
    now = WINDOWS.get(fact.window or "", DEFAULT_WINDOW)
    line = f"- {fact.label} ({now}): {fmt.headline(fact.value, fact.unit)}"
    if fact.window != "as_at":
        change = fmt.delta(fact.value, fact.previous, fact.unit)
        line += (
            f"; previous period: {fmt.headline(fact.previous, fact.unit)}; change: {change}"
            f"; light: {fact.light or 'none'}"
        )
    return line


def user_prompt(section: Section, subject: str) -> str:
    """The message for one section: subject, title, that section's facts and notes only."""
    lines = [f"Subject: {subject}", f"Section: {section.title}", "", "Figures:"]
    lines += [_fact_line(f) for f in section.facts] or ["- (none)"]
    if section.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in section.notes]
    lines += ["", "Write the commentary for this section."]
    return "\n".join(lines)
