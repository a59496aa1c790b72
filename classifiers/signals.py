"""Is a post aimed at school staff? Named staff and school roles, found in normalised text.

The second half of a score: the abuse model says how abusive a post is, this
says whether it names a member of staff, so a reviewer can tell abuse of a
teacher from generic swearing. A word list, not a model: the seed set has no
posts that are not about staff to learn the difference from, and a list is
easy to read, explain and extend.
"""
from __future__ import annotations

import re

import numpy as np

_ROLES = (
    r"teachers?|teaching assistants?|tas|headteachers?|head teachers?|headmasters?|"
    r"headmistress(?:es)?|deputy heads?|heads? of (?:year|department|\w+)|principals?|"
    r"form tutors?|tutors?|sencos?|cover supervisors?|caretakers?|dinner lad(?:y|ies)|"
    r"lunch lad(?:y|ies)|school receptionists?|supply teachers?|school staff|staffroom|sir|"
    # "ta" alone is also "thanks" ("ta mate"): a teaching assistant only after a determiner.
    r"(?:the|our|my|a|new) tas?|"
    # "the head" is also a body part: a headteacher only before what a person does or is.
    r"the head(?='s|s? (?:said|says|told|tells|is|was|has|had|just|came|comes|walked|walks|sent|"
    r"emailed|rang|called|made|gave|at|of|teacher|wants|wanted|literally|always|never|will|won't)\b)"
)
# An honorific followed by a word that is not an ordinary word ("miss you" is not a teacher).
_NOT_NAMES = ("you|u|it|the|a|an|my|me|him|her|them|this|that|out|school|class|being|"
              "having|and|or|is|was|so|too|when|how|what|for|to|on|in|at|with|from|of|all|ya|u|yall|"
              "up|off|lol|xxemoji|xxurl|xxuser|xxemail|"
              # Not teachers: public figures and stock phrases ("mr trump", "mr president",
              # "mr nice guy", "mr right"). A school's staff are rarely called any of these.
              "president|prime|trump|biden|obama|putin|musk|bean|beast|blobby|potato|right|"
              "nice|t|speaker|chairman|worldwide|incredible|universe|world|america|england|"
              "britain|brightside|clean|freeze|tumble|sheen|sunak|starmer|johnson|corbyn|farage")
_HONORIFICS = "mr|mrs|ms|mx|miss|dr"  # every honorific the pattern below knows
# "miss" is also a verb: not after a subject, an auxiliary or "to" ("i miss lunch", "gonna
# miss her"). After anything else it names a teacher, also alone ("told miss", "miss said").
_VERB_BEFORE_MISS = "".join(rf"(?<!\b{w} miss)" for w in (
    "i", "we", "you", "u", "they", "he", "she", "will", "gonna", "really", "dont", "don't", "to",
    "would", "i'll", "we'll", "never", "still", "not", "wont", "won't", "cant", "can't", "always",
    "might", "did", "didn't", "could", "may", "must", "should", "ll",
    # ...nor the noun: "a near miss", "hit or miss", "a big miss".
    "near", "a", "or", "big", "huge", "total", "no"))
_STAFF_RE = re.compile(
    rf"\b(?:miss(?:{_VERB_BEFORE_MISS}|(?<=thank you miss))(?= (?:is|was|said|says|told|tells|just|has|"
    rf"had|gave|gives|made|makes|asked|literally|always|never|will|won't|can't|wants|thinks|knows|"
    rf"i|i'd|i'm|im|we|up|off|lol|xxemoji|xxurl|xxuser)\b|\s*(?:[^\w\s]|$))"
    rf"|(?:mr|mrs|ms|mx|dr|miss{_VERB_BEFORE_MISS})\.? (?!(?:{_NOT_NAMES})\b)[a-z][a-z'-]+"
    rf"|(?:{_ROLES}))\b"
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


NAME_PLACEHOLDER = "xxname"
_NAMED_RE = re.compile(rf"^((?:{_HONORIFICS})\.? )([a-z'-]+?)('s)?$")


def mask_staff_names(normalised: str) -> str:
    """The post with each staff member's name after an honorific replaced by a placeholder
    ("mr castellane's class" -> "mr xxname's class").

    The staff head reads posts this way: a name says who is meant, never whether it is
    abuse. Unmasked, the seed set's invented names and their character n-grams took
    weight (0.12-0.16 of a harmless post's log-odds, and `why` named them); masked,
    staff_select's ROC-AUC rose from 0.968 to 0.973 (docs/classifier.md).
    """
    def masked(match: re.Match) -> str:
        named = _NAMED_RE.match(match.group())
        if named is None:  # a role ("the caretaker") or a lone "miss": no name to hide
            return match.group()
        return f"{named.group(1)}{NAME_PLACEHOLDER}{named.group(3) or ''}"
    return _STAFF_RE.sub(masked, normalised)


def mask_staff_names_many(normalised: list[str]) -> list[str]:
    return [mask_staff_names(t) for t in normalised]


def aimed_at_staff(normalised: str) -> bool:
    """Whether a normalised post mentions school staff at all (cheaper than `staff_terms`)."""
    return _STAFF_RE.search(normalised) is not None


def _top_level_alternatives(pattern: str) -> list[str]:
    """The alternatives of a regex's top-level "|" (not those inside parentheses)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(pattern):
        if c == "(" and pattern[i - 1:i] != "\\":
            depth += 1
        elif c == ")" and pattern[i - 1:i] != "\\":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    return parts + [pattern[start:]]


def anchor_words(alternative: str) -> set[str]:
    """Words (or word beginnings) one of which every match of a regex alternative contains
    at the start of a word: its longest literal word, or, for an alternative that starts
    with a group ("(?:the|our) tas?"), the word after the group, else each branch's."""
    if alternative.startswith("(?:"):
        depth = 0
        for i, c in enumerate(alternative):
            escaped = alternative[i - 1:i] == "\\"
            depth += (c == "(" and not escaped) - (c == ")" and not escaped)
            if depth == 0:
                break
        if alternative[i + 1:i + 2] in ("?", "*", "{"):
            raise ValueError(f"staff pattern alternative {alternative!r} has no certain start")
        rest = alternative[i + 1:]
        if rest.startswith(" ") and re.match(r" [a-z]", rest):
            return anchor_words(rest[1:])
        return {w for branch in _top_level_alternatives(alternative[3:i])
                for w in anchor_words(branch)}
    literal = re.match(r"[a-z ]*", alternative).group()
    # A letter made optional by a following "?" or "*" is not certain to be there.
    if alternative[len(literal):len(literal) + 1] in ("?", "*", "{"):
        literal = literal[:-1]
    words = literal.split()
    if not words or not alternative.startswith(words[0]):
        raise ValueError(f"staff pattern alternative {alternative!r} has no literal start")
    return {max(words, key=len)}


def _start_words() -> list[str]:
    """Word beginnings one of which every match of _STAFF_RE contains: a role's or an
    honorific's most telling word ("head" for "the head said", "ta" for "our ta").

    Built from the lists themselves, so it follows edits to them; a word
    that another one starts with is enough.
    """
    starts = {w for a in _top_level_alternatives(_ROLES) for w in anchor_words(a)}
    starts |= {w for a in _top_level_alternatives(_HONORIFICS) for w in anchor_words(a)}
    return sorted(w for w in starts if not any(w != v and w.startswith(v) for v in starts))


_START_WORDS = _start_words()
# The first byte of each start word, and its first (up to) four bytes by how many there are.
_FIRST_BYTE = np.zeros(256, dtype=bool)
_FIRST_BYTE[[w.encode()[0] for w in _START_WORDS]] = True
_PREFIXES = {k: np.array(sorted({int.from_bytes(w.encode()[:k], "big") for w in _START_WORDS
                                 if min(len(w.encode()), 4) == k}), dtype=np.uint32)
             for k in (1, 2, 3, 4)}


def aimed_at_staff_many(texts: list[str]) -> np.ndarray:
    """`aimed_at_staff` of each text, over the batch at once (tests check they agree).

    The regex engine tries the full pattern at every character of every
    text; instead, array lookups over the batch's UTF-8 bytes find, after a
    character that is not an ASCII word character, one of the words every
    match contains (`_start_words`), and only the texts with such a place
    are searched with the pattern: about 3x faster.
    """
    hits = np.zeros(len(texts), dtype=bool)
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:  # a text holds a newline: no byte map of rows
        return np.array([aimed_at_staff(t) for t in texts], dtype=bool)
    data = np.frombuffer(b"\n" + joined.encode("utf-8", "surrogatepass") + b"\0\0\0", np.uint8)
    before = data[:-4]  # the byte before each possible start
    word_byte = ((before >= 97) & (before <= 122)) | ((before >= 48) & (before <= 57)) \
        | ((before >= 65) & (before <= 90)) | (before == 95)
    where = np.flatnonzero(~word_byte) + 1
    where = where[_FIRST_BYTE[data[where]]]
    if len(where):
        quads = np.zeros(len(where), dtype=np.uint32)
        for k in range(4):
            quads = (quads << np.uint32(8)) | data[where + k]
        found = np.zeros(len(where), dtype=bool)
        for k, prefixes in _PREFIXES.items():
            if len(prefixes):
                found |= np.isin(quads >> np.uint32(8 * (4 - k)), prefixes)
        where = where[found]
    if len(where):
        rows = np.searchsorted(np.flatnonzero(data == 10), where, side="right") - 1
        for row in np.unique(rows).tolist():
            hits[row] = _STAFF_RE.search(texts[row]) is not None
    return hits


_HONORIFIC_RE = re.compile(rf"^(?:{_HONORIFICS})\b")
_SCHOOL_RE = re.compile(
    r"\b(?:schools?|academy|college|class(?:room)?|lessons?|pupils?|students?|year \d+|"
    r"form|detention|homework|staff|teachers?|playground|assembly|exams?|gcses?|sixth form)\b")


def staff_signals(normalised: list[str]) -> np.ndarray:
    """Per post: [names staff, by honorific and name, by role, how many mentions (/3), school words].

    The inputs of the staff_target model (`classifiers.training`): P(aimed at
    school staff) learned over these, not a 0/1 rule.
    """
    aimed = aimed_at_staff_many(normalised)
    out = np.zeros((len(normalised), 5))
    out[:, 0] = aimed
    for i in np.flatnonzero(aimed):
        terms = staff_terms(normalised[i])
        named = sum(1 for t in terms if _HONORIFIC_RE.match(t))
        out[i, 1] = named > 0
        out[i, 2] = named < len(terms)
        out[i, 3] = len(terms) / 3
    out[:, 4] = [_SCHOOL_RE.search(t) is not None for t in normalised]
    return out
