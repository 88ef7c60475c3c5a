"""Who the fictional demo company is: the tables :mod:`lib.demo` draws its data from.

Its lenders, its retailers' sectors and the names they trade under, its staff, its
product codes as they get typed, and the weekly and yearly rhythm of its applications.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import numpy as np

COMPANY_NAME = "Larkspur Retail Finance"
"""The invented company the demo data belongs to."""

COMPANY_DOMAIN = "larkspur-finance.example"

YEARS = 3
"""Years of application history ending at ``as_of``."""


# The demo company's lenders (domain §5), with how popular each is with retailers, how
# often it approves, and how its popularity drifts per year (so lender shares move over
# time, which the board pack comments on).
class _Lender(NamedTuple):
    name: str
    popularity: float
    approval: float
    drift: float  # yearly change of popularity, log scale


LENDERS = (
    _Lender("Northwind Bank", 0.22, 0.72, -0.05),
    _Lender("Blue Heron Credit", 0.15, 0.64, 0.00),
    _Lender("Castlegate Finance", 0.12, 0.58, -0.10),
    _Lender("Meridian Consumer Lending", 0.12, 0.66, 0.05),
    _Lender("Oakfield Bank", 0.14, 0.74, 0.00),
    _Lender("Silverline Credit", 0.09, 0.55, 0.10),
    _Lender("Tidewater Finance", 0.09, 0.63, -0.05),
    _Lender("Kestrel Money", 0.07, 0.52, 0.35),
)

# Lenders outside the company's panel, and blanks, as they turn up in real data.
UNKNOWN_LENDERS = (
    "Greyfriars Lending Ltd",
    "Pennant Credit",
    "quayside finance co",
    "Ravensworth Capital",
    "FINANCE-DIRECT",
)
P_UNKNOWN_LENDER = 0.012
P_NULL_LENDER = 0.006
P_BLANK_LENDER = 0.002


# Sectors: weight among retailers, loan amount (median £, log-sd), product family mix
# (BNPL, IFC, IBC, HP), the spellings Sector__c arrives in, and shop-name nouns.
class _Sector(NamedTuple):
    name: str
    weight: float
    median: float
    sigma: float
    mix: tuple[float, ...]
    labels: tuple[str, ...]
    nouns: tuple[str, ...]


SECTORS = (
    _Sector(
        "Furniture", 0.25, 1800, 0.60, (0.20, 0.50, 0.25, 0.05),
        ("Furniture", "Furniture", "furniture", "Home Furnishings"),
        ("Furnishings", "Sofas", "Beds", "Interiors", "Home Store", "Furniture"),
    ),
    _Sector(
        "Dental", 0.15, 3500, 0.55, (0.10, 0.50, 0.40, 0.00),
        ("Dental", "Dental", "Dentistry", "dental "),
        ("Dental", "Dental Care", "Dental Practice", "Orthodontics", "Smile Clinic"),
    ),
    _Sector(
        "Cycling", 0.12, 1400, 0.60, (0.25, 0.45, 0.20, 0.10),
        ("Bikes & Cycling", "Cycling", "Bicycles"),
        ("Cycles", "Bikes", "Bike Co", "Cycle Centre"),
    ),
    _Sector(
        "Home Improvement", 0.20, 7000, 0.60, (0.00, 0.25, 0.50, 0.25),
        ("Home Improvement", "Home Improvement", "Home improvements", "HOME IMPROVEMENT"),
        ("Windows & Doors", "Kitchens", "Bathrooms", "Roofing", "Solar", "Home Improvements"),
    ),
    _Sector(
        "Jewellery", 0.06, 900, 0.70, (0.45, 0.40, 0.15, 0.00),
        ("Jewellery", "Jewelry"),
        ("Jewellers", "Diamonds", "Goldsmiths"),
    ),
    _Sector(
        "Musical Instruments", 0.05, 1100, 0.70, (0.30, 0.50, 0.20, 0.00),
        ("Musical Instruments", "Music"),
        ("Music", "Guitars", "Pianos"),
    ),
    _Sector(
        "Mobility", 0.05, 3000, 0.50, (0.00, 0.40, 0.30, 0.30),
        ("Mobility", "Mobility Aids"),
        ("Mobility", "Stairlifts"),
    ),
    _Sector(
        "Hot Tubs & Garden", 0.06, 5000, 0.50, (0.05, 0.35, 0.35, 0.25),
        ("Hot Tubs & Garden", "Garden", "Leisure"),
        ("Hot Tubs", "Garden Rooms", "Garden Centre"),
    ),
    _Sector(
        "Aesthetics", 0.06, 2200, 0.60, (0.35, 0.45, 0.20, 0.00),
        ("Aesthetics", "Cosmetic"),
        ("Aesthetics", "Skin Clinic", "Laser Clinic"),
    ),
)  # fmt: skip
SECTOR_INDEX = {s.name: i for i, s in enumerate(SECTORS)}

# Names that exercise escaping and Unicode everywhere a retailer name is shown.
SPECIAL_RETAILERS: tuple[tuple[str, str], ...] = (
    ("Harbour & Sons", "Home Improvement"),
    ("O'Neill's Bikes", "Cycling"),
    ("Smile/Dental Co", "Dental"),
    ("<Dent> Studio", "Dental"),
    ("Café Zoë Furnishings", "Furniture"),
    ("Łódź Interiors", "Furniture"),
    ('The "Comfy" Sofa Barn', "Furniture"),
    ("Müller & Søn Kitchens", "Home Improvement"),
    ("Ángel Guitar Workshop", "Musical Instruments"),
    ("Brontë Beds", "Furniture"),
)

PLACES = (
    "Millbrook", "Ashworth", "Kingsley", "Penrose", "Thornbury", "Hollins", "Redcliffe",
    "Fairholme", "Wyndham", "Caldbeck", "Stanmoor", "Oldfield", "Brackenridge", "Eastleigh",
    "Hartwell", "Lindqvist", "Marlow", "Northgate", "Pemberton", "Quarry Hill", "Rosewood",
    "Saltash", "Tanner", "Upton", "Valley", "Westcombe", "Yarrow", "Abbotsford", "Beacon",
    "Chalkstone", "Dunmore", "Elmstead", "Foxley", "Greenhow", "Highfield", "Ivybridge",
    "Juniper", "Kelso", "Larchmont", "Moorcroft", "Newhaven", "Orchard", "Priory",
    "Riverside", "Seacroft", "Tillingham", "Wharfedale", "Pennine", "Cobble Lane", "Kowalski",
)  # fmt: skip

FIRST_NAMES = (
    "Priya", "Tom", "Siobhán", "Kwame", "Hannah", "Marek", "Aisha", "Callum", "Fiona",
    "Dev", "Rhiannon", "Oluwaseun", "Ewan", "Zofia", "Gareth", "Mei", "Jonah", "Nadia",
)  # fmt: skip
LAST_NAMES = (
    "Raman", "Whitfield", "Doyle", "Mensah", "Lewis", "Nowak", "Khan", "MacLeod", "Ó Briain",
    "Patel", "Pryce", "Adeyemi", "Grant", "Wiśniewska", "Hughes", "Chen", "Ellery", "Haddad",
)  # fmt: skip

# Product families as their code prefixes appear, with terms (months) and term weights.
FAMILIES: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...] = (
    ("BNPL", (3, 6, 12), (0.30, 0.40, 0.30)),
    ("IFC", (6, 10, 12, 18, 24, 36), (0.15, 0.15, 0.30, 0.10, 0.20, 0.10)),
    ("IBC", (24, 36, 48, 60, 84, 120), (0.15, 0.30, 0.20, 0.25, 0.05, 0.05)),
    ("HP", (24, 36, 48, 60), (0.25, 0.35, 0.20, 0.20)),
)
# How a product code is typed: "BNPL-12", "ifc 24", "IBC_060", "hp36", ...
CODE_STYLES = (
    lambda f, t: f"{f}-{t}",
    lambda f, t: f"{f.lower()} {t}",
    lambda f, t: f"{f}_{t:03d}",
    lambda f, t: f"{f.lower()}{t}",
    lambda f, t: f"{f.title()}{t}",
    lambda f, t: f"{f} {t}M",  # the trailing "M" leaves no trailing digits: term Unknown
    lambda f, t: f" {f}-{t} ",
    lambda f, t: f"{f}/{t}",
)
CODE_STYLE_WEIGHTS = (0.40, 0.15, 0.15, 0.10, 0.10, 0.03, 0.05, 0.02)
ODD_CODES = ("PROMO", "LEGACY-A", "STAFF", "TBC", "0%APR", "IF-C 12", "HP", "X99")
P_ODD_CODE = 0.010
P_NULL_CODE = 0.007
P_NULL_AMOUNT = 0.007

DOW_FACTOR = np.array([1.00, 1.05, 1.05, 1.10, 1.15, 0.45, 0.25])  # Mon..Sun: quiet weekends
MONTH_FACTOR = np.array([1.10, 0.90, 1.00, 1.00, 1.00, 0.95, 0.95, 0.88, 1.00, 1.05, 1.15, 0.80])


def window_start(as_of: date) -> date:
    try:
        return as_of.replace(year=as_of.year - YEARS) + timedelta(days=1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - YEARS, day=28) + timedelta(days=1)
