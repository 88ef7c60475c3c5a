"""The definitions of every metric (domain §6), as the methodology appendix prints them.

Each metric is defined exactly once, here: its id, label, unit and the definition text
that the board pack's methodology appendix prints verbatim. :mod:`lib.metrics` registers
them and computes them. Rules the domain leaves open are written into the definitions
(and ``GENERAL_RULES``), so the appendix states exactly what the code does.
"""

from __future__ import annotations

from dataclasses import dataclass

INACTIVE_DAYS = 30
TOP_N = 10


@dataclass(frozen=True)
class Metric:
    """One metric of domain §6.

    Attributes:
        id: The metric id used in figures.json.
        label: Short human label.
        unit: ``count``, ``money``, ``rate``, ``hours``, ``days``, ``share`` or ``map``.
        definition: The exact rule, printed verbatim in the methodology appendix.
        basis: ``window`` (one value per window key) or ``as_at`` (one value, key ``as_at``).
        higher_is_better: Whether an increase is good news (drives arrow colours).
        moves_with_as_of: A past window's value changes as A moves on, by definition
            (a cohort measured "on or before A"), so a new value is no restatement.
    """

    id: str
    label: str
    unit: str
    definition: str
    basis: str = "window"
    higher_is_better: bool = True
    moves_with_as_of: bool = False


_NO_DENOMINATOR = "Undefined (shown as –) when {den}."

DEFINITIONS: tuple[Metric, ...] = (
    Metric(
        "submissions",
        "Submissions",
        "count",
        "Number of applications whose submission date (Submitted_Date__c) falls in W.",
    ),
    Metric(
        "submitted_value",
        "Submitted value",
        "money",
        "Sum of Loan_Amount__c over the applications counted in Submissions; a missing "
        "amount counts as £0.",
    ),
    Metric(
        "decisions",
        "Decisions",
        "count",
        "Number of applications with a decision (Decision__c is Approved or Declined) "
        "whose decision date (Decision_Date__c) falls in W.",
    ),
    Metric(
        "approvals",
        "Approvals",
        "count",
        "Number of applications with Decision__c = Approved whose decision date falls in W.",
    ),
    Metric(
        "declines",
        "Declines",
        "count",
        "Number of applications with Decision__c = Declined whose decision date falls in W.",
        higher_is_better=False,
    ),
    Metric(
        "approval_rate",
        "Approval rate",
        "rate",
        "Approvals ÷ Decisions, both in W. "
        + _NO_DENOMINATOR.format(den="there were no decisions"),
    ),
    Metric(
        "signed",
        "Signed",
        "count",
        "Number of applications whose signing date (Signed_Date__c) falls in W, whatever "
        "their status now (an agreement signed in W and cancelled later still counts).",
    ),
    Metric(
        "paid",
        "Paid",
        "count",
        "Number of applications whose payout date (Paid_Date__c) falls in W, whatever their "
        "status now.",
    ),
    Metric(
        "paid_value",
        "Paid value",
        "money",
        "Sum of Loan_Amount__c over the applications counted in Paid: the lending volume. "
        "A missing amount counts as £0.",
    ),
    Metric(
        "avg_loan",
        "Average loan",
        "money",
        "Paid value ÷ Paid, both in W. An application paid with no recorded amount counts as "
        "£0 and still counts in the denominator. "
        + _NO_DENOMINATOR.format(den="nothing was paid in W"),
    ),
    Metric(
        "cancelled",
        "Cancelled",
        "count",
        "Number of applications whose cancellation date (Cancelled_Date__c) falls in W, at "
        "whatever stage they were cancelled.",
        higher_is_better=False,
    ),
    Metric(
        "sign_rate",
        "Sign rate",
        "rate",
        "Signed ÷ Approvals, both in W. The two counts need not be the same applications "
        "(an approval late in one window may be signed in the next), so the rate can exceed "
        "100 %. " + _NO_DENOMINATOR.format(den="there were no approvals"),
    ),
    Metric(
        "conversion",
        "Conversion",
        "rate",
        "Cohort measure: of the applications submitted in W, the share with a payout date on "
        "or before A, whatever their status now. Recent windows read lower because their "
        "applications have had less time to pay out. "
        + _NO_DENOMINATOR.format(den="nothing was submitted in W"),
        moves_with_as_of=True,
    ),
    Metric(
        "median_hours_to_decision",
        "Median hours to decision",
        "hours",
        "Median elapsed time in hours from Submitted_Date__c to Decision_Date__c, over the "
        "applications counted in Decisions. Exact timestamps are used, so clock changes do "
        "not distort it; times are taken as recorded. With an even number of decisions it is "
        "the mean of the middle two. " + _NO_DENOMINATOR.format(den="there were no decisions"),
        higher_is_better=False,
    ),
    Metric(
        "median_days_to_pay",
        "Median days to pay",
        "days",
        "Median number of calendar days (London) from the signing date to the payout date, "
        "over the applications counted in Paid that have a signing date. With an even number "
        "it is the mean of the middle two. "
        + _NO_DENOMINATOR.format(den="no such application was paid in W"),
        higher_is_better=False,
    ),
    Metric(
        "active_retailers",
        "Active retailers",
        "count",
        "Number of distinct retailers with at least one application submitted in W, whatever "
        "their status.",
    ),
    Metric(
        "new_retailers",
        "New retailers",
        "count",
        "Number of retailers whose Onboarded_Date__c falls in W, whatever their status now.",
    ),
    Metric(
        "inactive_retailers",
        "Inactive retailers",
        "count",
        f"As at A: number of retailers whose status is Live and that submitted no application "
        f"in the {INACTIVE_DAYS} days ending at A, i.e. from A − {INACTIVE_DAYS - 1} days to A "
        f"inclusive. A Live retailer that has never submitted counts as inactive. The status is "
        f"the one at extraction (Salesforce keeps no status history).",
        basis="as_at",
        higher_is_better=False,
    ),
    Metric(
        "pipeline_ans_count",
        "Approved but not signed",
        "count",
        "As at A: applications with Decision__c = Approved and a decision date on or before "
        "A, neither signed nor cancelled on or before A. An application signed or cancelled "
        "after A was still waiting at A and is counted. Each ages from its decision date to "
        "A in days, bucketed 0–7, 8–30, 31–90 and 90+ (91 days or more).",
        basis="as_at",
    ),
    Metric(
        "pipeline_ans_value",
        "Approved but not signed (value)",
        "money",
        "As at A: sum of Loan_Amount__c over the applications counted in Approved but not "
        "signed; a missing amount counts as £0.",
        basis="as_at",
    ),
    Metric(
        "pipeline_snp_count",
        "Signed but not paid",
        "count",
        "As at A: applications signed on or before A, neither paid nor cancelled on or before "
        "A. An application paid or cancelled after A was still waiting at A and is counted. "
        "Each ages from its signing date to A in days, bucketed like Approved but not signed.",
        basis="as_at",
    ),
    Metric(
        "pipeline_snp_value",
        "Signed but not paid (value)",
        "money",
        "As at A: sum of Loan_Amount__c over the applications counted in Signed but not paid; "
        "a missing amount counts as £0.",
        basis="as_at",
    ),
    Metric(
        "lender_share",
        "Lender share",
        "map",
        "For each canonical lender (names normalised as in §5; blank names become Unknown) "
        "with at least one application paid in W: its Paid value in W ÷ the total Paid value "
        "in W. The shares add up to 100 %; each is undefined when the total is £0.",
    ),
    Metric(
        "lender_paid_value",
        "Paid value by lender",
        "map",
        "For each canonical lender with at least one application paid in W: the sum of "
        "Loan_Amount__c of its applications paid in W, in pounds. Lenders with nothing paid "
        "in W are left out; the values add up to Paid value.",
    ),
    Metric(
        "lender_submissions",
        "Submissions by lender",
        "map",
        "For each canonical lender with at least one application submitted in W: the number "
        "of those applications. Lenders with no submission in W are left out; the counts add "
        "up to Submissions.",
    ),
    Metric(
        "product_share",
        "Product share",
        "map",
        "For each product family (Product_Code__c bucketed as in §5; Other when no family "
        "matches) with at least one application paid in W: its Paid value in W ÷ the total "
        "Paid value in W. The shares add up to 100 %; each is undefined when the total is £0.",
    ),
    Metric(
        "product_paid_value",
        "Paid value by product",
        "map",
        "For each product family with at least one application paid in W: the sum of "
        "Loan_Amount__c of its applications paid in W, in pounds. The values add up to Paid "
        "value.",
    ),
    Metric(
        "top10_concentration",
        "Top-10 concentration",
        "share",
        f"Paid value in W from the {TOP_N} retailers with the largest Paid value in W ÷ the "
        f"total Paid value in W, within the report's scope (the whole book, a BDM's portfolio "
        f"or one retailer): 100 % when {TOP_N} or fewer retailers were paid. "
        + _NO_DENOMINATOR.format(den="the total is £0"),
        higher_is_better=False,
    ),
    Metric(
        "commission",
        "Commission",
        "money",
        "Sum over product families of the family's Paid value in W × its commission rate "
        "from the report parameters (a fraction of the amount paid out: 0.015 is 1.5 %). A "
        "family with no rate earns £0; a rate for an unknown family, or outside 0–1, is a "
        "configuration error. Undefined when the report sets no commission rates.",
    ),
)

# growth_<id> is defined for every windowed count or money metric.
GROWTH_BASES: tuple[str, ...] = tuple(
    m.id for m in DEFINITIONS if m.basis == "window" and m.unit in ("count", "money")
)

# The generic entries behind growth_<id> and growth_ly_<id>, registered after the others.
GROWTH_DEFINITIONS: tuple[Metric, ...] = (
    Metric(
        "growth",
        "Growth",
        "rate",
        "growth_<metric> = (value(W) − value(W_prev)) ÷ value(W_prev), reported under the key "
        "of every window W that has a previous window W_prev (LW, MTD, QTD, YTD and the board "
        "month M against the month before), as a fraction (0.12 is +12 %). It is given for "
        "every count or money metric: "
        + ", ".join(GROWTH_BASES)
        + ". Undefined when value(W_prev) is 0 or undefined, or value(W) is undefined. Rates "
        "are compared in percentage points instead.",
    ),
    Metric(
        "growth_ly",
        "Growth on last year",
        "rate",
        "growth_ly_<metric> = (value(W) − value(W_ly)) ÷ value(W_ly), the same comparison "
        "against the same period last year, reported under W's key: the board month M "
        "against M_ly, the same month a year earlier. Same metrics and the same undefined "
        "cases as Growth.",
    ),
)

GENERAL_RULES: tuple[str, ...] = (
    "A is the as-of date, the last complete day of data. Every date is the Europe/London "
    "calendar day on which the event happened. A window W is a closed range of days "
    "[first day, last day]; “in W” means the named date falls in W. Nothing dated after A is "
    "counted.",
    "Counts follow the date of each event, not the application's current status.",
    "A missing loan amount counts as £0 in values and still counts in counts. Money is "
    "added up in whole pence, so totals are exact.",
    "A rate or share whose denominator is 0 is undefined and shown as –, never as 0.",
    "Figures of a past period can move from one report to the next: records arrive late "
    "(an application keyed after the period closed) and records are corrected in Salesforce "
    "(an amount, a date, a decision). Every report recomputes every period from the data as "
    "it stands, and lists under “Restated since the last pack” each figure the previous "
    "report published for its own period that now reads differently, beyond rounding. "
    "Conversion is left out: it is a cohort measure that rises as applications pay out.",
    "Per-BDM figures follow the BDM who owns the retailer's account at extraction "
    "(Salesforce keeps no ownership history), so a retailer that changes BDM takes its "
    "history with it. Applications whose retailer has no account, or whose account has no "
    "owner, are grouped as “unassigned”.",
)
