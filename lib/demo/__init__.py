"""Deterministic synthetic Salesforce data for the fictional demo company (domain §1–2).

``generate`` returns the three tables of a snapshot (``users``, ``accounts``,
``applications``) in their stored types, shaped exactly like a Salesforce extract: messy
lender spellings and product codes, null amounts, retailers in every status, names that
need escaping, and three years of applications that end at ``as_of`` (Europe/London).

Everything is vectorised with numpy: the per-retailer, per-day expected volume is one
matrix, Poisson counts expand it into applications, and each stage of the funnel is drawn
for all applications at once. The same arguments give the same bytes.

The tables it draws from are in :mod:`lib.demo.company`, the ids in :mod:`lib.demo.ids`
and the applications in :mod:`lib.demo.applications`; this module builds the users and
accounts and is the public API.
"""

from lib.demo.company import COMPANY_DOMAIN, COMPANY_NAME, YEARS
from lib.demo.ids import sf_ids
from lib.demo.tables import generate
from lib.periods import LONDON

__all__ = ["COMPANY_DOMAIN", "COMPANY_NAME", "LONDON", "YEARS", "generate", "sf_ids"]
