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
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifiers.text import HashedNgrams

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
              "up|off|lol|xxemoji|xxurl|xxuser|xxemail")
# "miss" is also a verb: not after a subject, an auxiliary or "to" ("i miss lunch", "gonna
# miss her"). After anything else it names a teacher, also alone ("told miss", "miss said").
_VERB_BEFORE_MISS = "".join(rf"(?<!\b{w} miss)" for w in (
    "i", "we", "you", "u", "they", "he", "she", "will", "gonna", "really", "dont", "don't", "to",
    "would", "i'll", "we'll", "never", "still", "not", "wont", "won't", "cant", "can't", "always",
    "might", "did", "didn't", "could", "may", "must", "should", "ll"))
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


def aimed_at_staff(normalised: str) -> bool:
    """Whether a normalised post mentions school staff at all (cheaper than `staff_terms`)."""
    return _STAFF_RE.search(normalised) is not None


class StaffGatedNgrams(TransformerMixin, BaseEstimator):
    """Word n-gram counts for posts aimed at school staff, zero rows for the rest, plus a flag.

    The model's second feature block: the classifier sees every post's words
    once (how abusive), and a staff-aimed post's words a second time in their
    own columns (how abusive *when aimed at staff*). The linear model can then
    learn that "touching", "address" or "after school" mean abuse next to a
    teacher's name without learning that they do in a generic tweet, and the
    last column (1 if the post is aimed at staff) lets the two halves of the
    score combine. This is "frustratingly easy" domain adaptation (Daume
    2007), with the domain read off the text instead of the source.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), n_bits: int = 18):
        self.ngram_range = ngram_range
        self.n_bits = n_bits

    def fit(self, X, y=None):
        HashedNgrams("word", self.ngram_range, self.n_bits).fit(X)
        return self

    def transform(self, X) -> sp.csr_matrix:
        texts = list(X)
        width = (1 << self.n_bits) + 1
        rows = np.flatnonzero([aimed_at_staff(t) for t in texts])
        if not len(rows):
            return sp.csr_matrix((len(texts), width))
        counts = HashedNgrams("word", self.ngram_range, self.n_bits).transform(
            [texts[i] for i in rows])
        flagged = sp.hstack([counts, np.ones((len(rows), 1))], format="csr")
        # Spread the flagged rows back to their places among all the texts.
        spread = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                               shape=(len(texts), len(rows)))
        return (spread @ flagged).tocsr()
