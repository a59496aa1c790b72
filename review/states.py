"""The case lifecycle: every state and every allowed move, in one table.

A move is either made by a person (an analyst's decision, a report, a platform
answer they record) or automated (the 48 h deadline, a re-check's finding).
Anything not in MOVES is refused with a message that says what is allowed.
"""
from __future__ import annotations

DETECTED = "DETECTED"
IN_REVIEW = "IN_REVIEW"
DISMISSED = "DISMISSED"
CONFIRMED = "CONFIRMED"
REPORTED = "REPORTED"
PLATFORM_ACTIONED = "PLATFORM_ACTIONED"
PLATFORM_REJECTED = "PLATFORM_REJECTED"
NO_RESPONSE = "NO_RESPONSE"
ESCALATED = "ESCALATED"
MISMATCH = "MISMATCH"
OFFLINE_VERIFIED = "OFFLINE_VERIFIED"
RESURFACED = "RESURFACED"
CLOSED = "CLOSED"

HUMAN, AUTOMATED = "human", "automated"

# (from, to) -> who makes the move. The one table of the lifecycle.
MOVES: dict[tuple[str, str], str] = {
    (DETECTED, IN_REVIEW): HUMAN,           # reopened for a second look is IN_REVIEW too
    (DETECTED, CONFIRMED): HUMAN,
    (DETECTED, DISMISSED): HUMAN,
    (IN_REVIEW, CONFIRMED): HUMAN,
    (IN_REVIEW, DISMISSED): HUMAN,
    (DISMISSED, IN_REVIEW): HUMAN,          # a dismissal reopened (overturn)
    (DISMISSED, CLOSED): HUMAN,
    (CONFIRMED, REPORTED): HUMAN,
    (CONFIRMED, OFFLINE_VERIFIED): AUTOMATED,  # gone before anyone reported it
    (CONFIRMED, CLOSED): HUMAN,
    (REPORTED, PLATFORM_ACTIONED): HUMAN,   # the platform answered "removed"
    (REPORTED, PLATFORM_REJECTED): HUMAN,   # the platform answered "no violation"
    (REPORTED, NO_RESPONSE): AUTOMATED,     # no answer within 48 h
    (REPORTED, ESCALATED): HUMAN,
    (REPORTED, OFFLINE_VERIFIED): AUTOMATED,
    (PLATFORM_ACTIONED, MISMATCH): AUTOMATED,  # said removed, a re-check found it online
    (PLATFORM_ACTIONED, OFFLINE_VERIFIED): AUTOMATED,
    (PLATFORM_ACTIONED, CLOSED): HUMAN,     # closed by hand, with a reason (NEEDS_REASON)
    (PLATFORM_REJECTED, REPORTED): HUMAN,   # reported again (e.g. another channel)
    (PLATFORM_REJECTED, ESCALATED): HUMAN,
    (PLATFORM_REJECTED, OFFLINE_VERIFIED): AUTOMATED,
    (NO_RESPONSE, PLATFORM_ACTIONED): HUMAN,  # a late answer
    (NO_RESPONSE, PLATFORM_REJECTED): HUMAN,
    (NO_RESPONSE, REPORTED): HUMAN,
    (NO_RESPONSE, ESCALATED): HUMAN,
    (NO_RESPONSE, OFFLINE_VERIFIED): AUTOMATED,
    (ESCALATED, PLATFORM_ACTIONED): HUMAN,  # the platform answers after escalation
    (ESCALATED, PLATFORM_REJECTED): HUMAN,
    (ESCALATED, OFFLINE_VERIFIED): AUTOMATED,
    (ESCALATED, CLOSED): HUMAN,
    (MISMATCH, REPORTED): HUMAN,
    (MISMATCH, ESCALATED): HUMAN,
    (MISMATCH, OFFLINE_VERIFIED): AUTOMATED,
    (OFFLINE_VERIFIED, RESURFACED): AUTOMATED,  # a re-check found it online again
    (OFFLINE_VERIFIED, CLOSED): HUMAN,
    (RESURFACED, REPORTED): HUMAN,
    (RESURFACED, ESCALATED): HUMAN,
    (RESURFACED, OFFLINE_VERIFIED): AUTOMATED,
}

# Moves a person makes only with a reason (the event's note says why).
NEEDS_REASON: dict[tuple[str, str], str] = {
    (PLATFORM_ACTIONED, CLOSED): "closing a case the platform says it removed before a re-check "
                                 "verified it offline needs a reason (--note)",
}

# The states a case can be opened in (the event with no from-state), and by whom.
OPENINGS: dict[str, str] = {
    DETECTED: AUTOMATED,    # flagged by the classifier, or a post a member reported
    RESURFACED: AUTOMATED,  # a child case: content of a case verified offline seen again
}                           # under a new post id (same text hash); parent_case_id links them

STATES: tuple[str, ...] = (
    DETECTED, IN_REVIEW, DISMISSED, CONFIRMED, REPORTED, PLATFORM_ACTIONED, PLATFORM_REJECTED,
    NO_RESPONSE, ESCALATED, MISMATCH, OFFLINE_VERIFIED, RESURFACED, CLOSED,
)
# Waiting for a reviewer's decision: the review queue.
OPEN_FOR_REVIEW = (DETECTED, IN_REVIEW)
# A report has gone out and the post is still being watched by re-checks.
WATCHED = (REPORTED, PLATFORM_ACTIONED, PLATFORM_REJECTED, NO_RESPONSE, ESCALATED, MISMATCH,
           OFFLINE_VERIFIED, RESURFACED)


class IllegalMove(ValueError):
    """A move the lifecycle does not allow; the message says which moves are."""


def check_move(current: str, target: str, by: str) -> None:
    """Refuse a move that is not in MOVES, or that a person / the automation may not make."""
    if target not in STATES:
        raise IllegalMove(f"unknown state {target!r}; states: {', '.join(STATES)}")
    who = MOVES.get((current, target))
    if who is None:
        raise IllegalMove(f"a case in {current} cannot move to {target}; " + moves_from(current))
    if who != by:
        made = {HUMAN: "by a person", AUTOMATED: "automatically (by a re-check or the 48 h deadline)"}
        raise IllegalMove(f"{current} -> {target} is made {made[who]}, not {made[by]}")


def moves_from(state: str) -> str:
    """What can happen to a case in `state`, by a person and automatically, in words."""
    by_hand, automatic = allowed_from(state, HUMAN), allowed_from(state, AUTOMATED)
    if not by_hand and not automatic:
        return f"{state} is final: nothing moves it"
    said = [f"a person can move it to {', '.join(by_hand)}" if by_hand else "no person can move it"]
    if automatic:
        said.append(f"re-checks and the 48 h deadline move it to {', '.join(automatic)}")
    return f"from {state} " + "; ".join(said)


def check_opening(target: str, by: str = AUTOMATED) -> None:
    """Refuse to open a case in a state it cannot start in (OPENINGS)."""
    if OPENINGS.get(target) != by:
        raise IllegalMove(f"a case cannot be opened in {target}; cases open in "
                          + ", ".join(OPENINGS))


# Decisions that can be undone for a few minutes (review.decisions): the undo appends the
# reverse of the decision's move (a compensating event) instead of a move of this table.
UNDOABLE = (CONFIRMED, DISMISSED, REPORTED)


def check_undo(from_state: str | None, to_state: str) -> None:
    """Refuse to reverse a move that is not a person's confirm, dismiss or report."""
    if to_state not in UNDOABLE or MOVES.get((from_state, to_state)) != HUMAN:
        raise IllegalMove(f"{from_state or '-'} -> {to_state} cannot be undone; "
                          f"only a person's move to {', '.join(UNDOABLE)} can")


def allowed_from(state: str, by: str | None = None) -> list[str]:
    return [to for (frm, to), who in MOVES.items() if frm == state and (by is None or who == by)]


# What a school contact is told, in plain words, for each state (every state has one).
PLAIN_WORDS: dict[str, str] = {
    DETECTED: "received",
    IN_REVIEW: "under review",
    CONFIRMED: "under review",
    DISMISSED: "reviewed: not taken further",
    REPORTED: "reported to the platform",
    NO_RESPONSE: "reported to the platform",
    PLATFORM_ACTIONED: "platform answered",
    PLATFORM_REJECTED: "platform answered",
    ESCALATED: "escalated",
    MISMATCH: "still online after the platform said removed",
    OFFLINE_VERIFIED: "verified removed",
    RESURFACED: "back online after removal",
    CLOSED: "closed",
}
assert set(PLAIN_WORDS) == set(STATES), "every state needs plain words for schools"
# A school's case waits on a platform in these states.
WAITING_ON_PLATFORM = (REPORTED, NO_RESPONSE, ESCALATED, MISMATCH, RESURFACED)


def plain_words(state: str, answer: str | None = None) -> str:
    """The state as a school is told it; a platform answer adds what the platform said."""
    words = PLAIN_WORDS.get(state, "received")
    if state in (PLATFORM_ACTIONED, PLATFORM_REJECTED) and answer:
        said = {"removed": "removed", "no_violation": "no violation"}.get(answer, answer)
        words += f": “{said}”"
    return words
