"""Is a post aimed at school staff? Named staff and school roles, found in normalised text.

The second half of a score: the abuse model says how abusive a post is, this
says whether it names a member of staff, so a reviewer can tell abuse of a
teacher from generic swearing. A word list, not a model: the seed set has no
posts that are not about staff to learn the difference from, and a list is
easy to read, explain and extend.
"""
from __future__ import annotations

import re

_ROLES = (
    r"teachers?|teaching assistants?|tas|headteachers?|head teachers?|headmasters?|"
    r"headmistress(?:es)?|deputy heads?|heads? of (?:year|department|\w+)|principals?|"
    r"form tutors?|tutors?|sencos?|cover supervisors?|caretakers?|dinner lad(?:y|ies)|"
    r"lunch lad(?:y|ies)|school receptionists?|supply teachers?|school staff|staffroom|sir"
)
# An honorific followed by a word that is not an ordinary word ("miss you" is not a teacher).
_NOT_NAMES = ("you|u|it|the|a|an|my|me|him|her|them|this|that|out|school|class|being|"
              "having|and|or|is|was|so|too|when|how|what|for|to|on|in|at|with|from|of|all|ya|u|yall")
_STAFF_RE = re.compile(
    rf"\b(?:(?:mr|mrs|ms|mx|miss|dr)\.? (?!(?:{_NOT_NAMES})\b)[a-z][a-z'-]+|(?:{_ROLES}))\b"
)


def staff_terms(normalised: str, limit: int = 3) -> list[str]:
    """The first few distinct mentions of school staff in a normalised post."""
    found: list[str] = []
    for match in _STAFF_RE.finditer(normalised):
        term = match.group()
        if term not in found:
            found.append(term)
            if len(found) == limit:
                break
    return found
