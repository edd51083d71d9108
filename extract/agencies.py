"""Awarding agencies: names as exports spell them -> canonical ids (ICE, CBP, ...).

The statute covers ICE (with ERO and HSI), CBP (with Border Patrol and OFO) and
the Office of Refugee Resettlement (ORR); other agencies keep a short id so the
rollup can tell covered customers from the rest.
"""
from __future__ import annotations

import re

CANONICAL = {
    "ICE": ("U.S. IMMIGRATION AND CUSTOMS ENFORCEMENT", "IMMIGRATION AND CUSTOMS ENFORCEMENT",
            "ICE", "ENFORCEMENT AND REMOVAL OPERATIONS", "HOMELAND SECURITY INVESTIGATIONS"),
    "CBP": ("U.S. CUSTOMS AND BORDER PROTECTION", "CUSTOMS AND BORDER PROTECTION", "CBP",
            "U.S. BORDER PATROL", "BORDER PATROL", "OFFICE OF FIELD OPERATIONS"),
    "ORR": ("OFFICE OF REFUGEE RESETTLEMENT", "ORR"),
    "USCIS": ("U.S. CITIZENSHIP AND IMMIGRATION SERVICES", "USCIS"),
    "DHS-OCPO": ("OFFICE OF THE CHIEF PROCUREMENT OFFICER",),
    "DHS-OPO": ("OFFICE OF PROCUREMENT OPERATIONS",),
    "TSA": ("TRANSPORTATION SECURITY ADMINISTRATION",),
    "USSS": ("U.S. SECRET SERVICE", "UNITED STATES SECRET SERVICE"),
    "FEMA": ("FEDERAL EMERGENCY MANAGEMENT AGENCY",),
    "USCG": ("U.S. COAST GUARD", "UNITED STATES COAST GUARD"),
    "FBI": ("FEDERAL BUREAU OF INVESTIGATION",),
    "DEA": ("DRUG ENFORCEMENT ADMINISTRATION",),
    "USMS": ("U.S. MARSHALS SERVICE", "UNITED STATES MARSHALS SERVICE"),
    "BOP": ("FEDERAL PRISON SYSTEM / BUREAU OF PRISONS", "FEDERAL BUREAU OF PRISONS",
            "BUREAU OF PRISONS"),
    "GSA-FAS": ("FEDERAL ACQUISITION SERVICE",),
}
COVERED = frozenset({"ICE", "CBP", "ORR"})
DEPARTMENTS = {
    "DEPARTMENT OF HOMELAND SECURITY": "DHS",
    "DEPARTMENT OF HOMELAND SECURITY (DHS)": "DHS",
    "DEPARTMENT OF HEALTH AND HUMAN SERVICES": "HHS",
    "DEPARTMENT OF JUSTICE": "DOJ",
    "GENERAL SERVICES ADMINISTRATION": "GSA",
}
_LOOKUP = {name: cid for cid, names in CANONICAL.items() for name in names}
_NOISE = re.compile(r"[^A-Z0-9/ ().]+")


def _key(name: str) -> str:
    return " ".join(_NOISE.sub(" ", name.upper().replace("&", " AND ")).split())


def normalise_agency(sub_agency: str, agency: str = "") -> tuple[str, str]:
    """``(canonical sub-agency id, department id)`` for an award's agency names.

    An unknown sub-agency keeps its name (upper case) so nothing is lost.
    """
    sub = _key(sub_agency)
    canonical = _LOOKUP.get(sub) or _LOOKUP.get(sub.replace("U.S. ", "")) or sub
    dept = _key(agency)
    department = DEPARTMENTS.get(dept, dept)
    if not department and canonical in {"ICE", "CBP", "USCIS", "TSA", "USSS", "FEMA", "USCG"}:
        department = "DHS"
    return canonical, department
