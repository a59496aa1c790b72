"""The platform's decision in the fields of the EU DSA statement-of-reasons database.

Platforms answering under the Digital Services Act send a statement of reasons (Art. 17) and
file it in the Commission's transparency database; its field names and values are used here
(what a platform gives is recorded; every field is optional):

- decision_ground: DECISION_GROUND_ILLEGAL_CONTENT or DECISION_GROUND_INCOMPATIBLE_CONTENT
  (against the platform's terms of service);
- category: STATEMENT_CATEGORY_...;
- automated_detection: was the content found by automated means (the database's Yes / No);
- automated_decision: AUTOMATED_DECISION_FULLY, _PARTIALLY or _NOT_AUTOMATED;
- application_date: the decision date (the day the restriction applies from);
- restriction: the strongest restriction, a decision_visibility or decision_account value
  of the database, or NO_ACTION (tagwatch's own: the database records restrictions only).

People may type the short forms (illegal_content, terms_of_service, illegal_or_harmful_speech,
yes, partially, removed, visibility_reduced, account_suspended, no_action ...); what is stored
is always the database's constant. A value that is not one of them is refused in one line.
"""
from __future__ import annotations

from datetime import date, datetime

from warehouse.db import WarehouseError

GROUNDS = {
    "DECISION_GROUND_ILLEGAL_CONTENT": ("illegal_content", "illegal"),
    "DECISION_GROUND_INCOMPATIBLE_CONTENT": ("incompatible_content", "terms_of_service", "tos",
                                             "terms"),
}
# Both the first schema's categories and those of its 2025 revision.
CATEGORIES = tuple(f"STATEMENT_CATEGORY_{c}" for c in (
    "ANIMAL_WELFARE", "CONSUMER_INFORMATION", "CYBER_VIOLENCE", "CYBER_VIOLENCE_AGAINST_WOMEN",
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "ILLEGAL_OR_HARMFUL_SPEECH",
    "INTELLECTUAL_PROPERTY_INFRINGEMENTS", "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "NON_CONSENSUAL_BEHAVIOUR", "NOT_SPECIFIED_NOTICE", "OTHER_VIOLATION_TC",
    "PORNOGRAPHY_OR_SEXUALIZED_CONTENT", "PROTECTION_OF_MINORS", "RISK_FOR_PUBLIC_SECURITY",
    "SCAMS_AND_FRAUD", "SCOPE_OF_PLATFORM_SERVICE", "SELF_HARM", "UNSAFE_AND_ILLEGAL_PRODUCTS",
    "UNSAFE_AND_PROHIBITED_PRODUCTS", "VIOLENCE"))
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY": ("fully", "yes"),
    "AUTOMATED_DECISION_PARTIALLY": ("partially", "partly"),
    "AUTOMATED_DECISION_NOT_AUTOMATED": ("not_automated", "no", "none"),
}
NO_ACTION = "NO_ACTION"
# Restrictions that take the content down or limit it (RHC's "removed / restricted"): every
# one but NO_ACTION. The first four make the content unavailable.
RESTRICTIONS = {
    "DECISION_VISIBILITY_CONTENT_REMOVED": ("removed",),
    "DECISION_VISIBILITY_CONTENT_DISABLED": ("disabled",),
    "DECISION_ACCOUNT_SUSPENDED": ("account_suspended", "suspended"),
    "DECISION_ACCOUNT_TERMINATED": ("account_terminated", "terminated"),
    "DECISION_VISIBILITY_CONTENT_DEMOTED": ("visibility_reduced", "demoted"),
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED": ("age_restricted",),
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED": ("interaction_restricted",),
    "DECISION_VISIBILITY_CONTENT_LABELLED": ("labelled", "labeled"),
    "DECISION_VISIBILITY_OTHER": ("other_restriction",),
    NO_ACTION: ("no_action", "none"),
}
TAKEN_DOWN = tuple(list(RESTRICTIONS)[:4])
FIELDS = ("decision_ground", "category", "automated_detection", "automated_decision",
          "application_date", "restriction")
# Short forms offered in the web form and the CLI help, in this order.
SHORT = {
    "decision_ground": [v[0] for v in GROUNDS.values()],
    "category": [c.removeprefix("STATEMENT_CATEGORY_").lower() for c in CATEGORIES],
    "automated_detection": ["yes", "no"],
    "automated_decision": [v[0] for v in AUTOMATED_DECISIONS.values()],
    "restriction": [v[0] for v in RESTRICTIONS.values()],
}


class DsaError(WarehouseError, ValueError):
    """A statement-of-reasons value that is not one of the database's; the message says which are."""


def _lookup(field: str, value: str, table: dict[str, tuple[str, ...]], prefix: str = "") -> str:
    key = value.strip().replace("-", "_").replace(" ", "_")
    for constant, aliases in table.items():
        if constant in (key.upper(), prefix + key.upper()) or key.lower() in aliases:
            return constant
    shown = value.strip()[:60]
    raise DsaError(f"{field} {shown!r} is not a DSA value; use one of: {', '.join(SHORT[field])} "
                   f"(or the database's {next(iter(table))} form)")


def parse_flag(value) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    key = str(value).strip().lower()
    if key in ("yes", "y", "true", "1"):
        return True
    if key in ("no", "n", "false", "0"):
        return False
    raise DsaError(f"automated_detection {str(value).strip()[:20]!r} must be yes or no")


def parse_date(value, today: date) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise DsaError(f"application_date {str(value).strip()[:30]!r} is not a date "
                           "(YYYY-MM-DD)") from None
    if value > today:
        raise DsaError(f"application_date {value} is in the future: give the day the "
                       "platform's decision applies from")
    if value.year < 2000:
        raise DsaError(f"application_date {value} is too early to be a platform's decision")
    return value


def statement(fields: dict | None, today: date) -> dict:
    """The DSA fields of an answer as given (strings from a form or the command line, or
    already-parsed values) -> {field: database value or None}. Blank means not given."""
    given = {k: v for k, v in (fields or {}).items()
             if k in FIELDS and v is not None and str(v).strip() != ""}
    unknown = set(fields or {}) - set(FIELDS)
    if unknown:
        raise DsaError(f"unknown statement-of-reasons field(s) {', '.join(sorted(unknown))}; "
                       f"fields: {', '.join(FIELDS)}")
    out = dict.fromkeys(FIELDS)
    if "decision_ground" in given:
        out["decision_ground"] = _lookup("decision_ground", str(given["decision_ground"]), GROUNDS,
                                         "DECISION_GROUND_")
    if "category" in given:
        out["category"] = _lookup("category", str(given["category"]),
                                  {c: (c.removeprefix("STATEMENT_CATEGORY_").lower(),) for c in CATEGORIES},
                                  "STATEMENT_CATEGORY_")
    if "automated_detection" in given:
        out["automated_detection"] = parse_flag(given["automated_detection"])
    if "automated_decision" in given:
        out["automated_decision"] = _lookup("automated_decision", str(given["automated_decision"]),
                                            AUTOMATED_DECISIONS, "AUTOMATED_DECISION_")
    if "application_date" in given:
        out["application_date"] = parse_date(given["application_date"], today)
    if "restriction" in given:
        out["restriction"] = _lookup("restriction", str(given["restriction"]), RESTRICTIONS)
    return out


def check_against_outcome(outcome: str, restriction: str | None) -> None:
    """A "removed" answer with no action, or "no violation" with the content taken down,
    contradicts itself: refused."""
    if restriction == NO_ACTION and outcome == "removed":
        raise DsaError('the outcome "removed" contradicts the restriction no_action')
    if restriction in TAKEN_DOWN and outcome == "no_violation":
        raise DsaError(f'the outcome "no_violation" contradicts the restriction '
                       f'{RESTRICTIONS[restriction][0]}: record the outcome removed')


def describe(answer: dict) -> str:
    """The DSA fields recorded with an answer, as one line ('' when none were given)."""
    parts = []
    for f in FIELDS:
        value = answer.get(f)
        if value is None:
            continue
        if f == "automated_detection":
            value = "Yes" if value else "No"
        parts.append(f"{f} {value}")
    return "; ".join(parts)
