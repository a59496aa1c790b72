"""The lifecycle table: every allowed move is accepted, every other move is refused."""
from __future__ import annotations

import itertools

import pytest

from review import states as st

ALL_PAIRS = list(itertools.product(st.STATES, st.STATES))


@pytest.mark.parametrize("frm, to", [p for p in ALL_PAIRS if p in st.MOVES])
def test_every_allowed_move_is_accepted_for_its_maker_only(frm, to):
    maker = st.MOVES[(frm, to)]
    other = st.AUTOMATED if maker == st.HUMAN else st.HUMAN
    st.check_move(frm, to, maker)
    with pytest.raises(st.IllegalMove, match=f"{frm} -> {to} is made"):
        st.check_move(frm, to, other)


@pytest.mark.parametrize("frm, to", [p for p in ALL_PAIRS if p not in st.MOVES])
def test_every_other_move_is_refused_with_what_is_allowed(frm, to):
    for by in (st.HUMAN, st.AUTOMATED):
        with pytest.raises(st.IllegalMove) as refused:
            st.check_move(frm, to, by)
        message = str(refused.value)
        assert f"a case in {frm} cannot move to {to}" in message
        assert all(allowed in message for allowed in st.allowed_from(frm)) or "final" in message


def test_unknown_state_is_refused():
    with pytest.raises(st.IllegalMove, match="unknown state 'GONE'"):
        st.check_move(st.DETECTED, "GONE", st.HUMAN)


def test_the_table_only_names_known_states_and_every_state_is_reachable():
    named = {s for pair in st.MOVES for s in pair}
    assert named <= set(st.STATES)
    reachable = {to for _, to in st.MOVES} | {st.DETECTED}
    assert reachable == set(st.STATES)
    assert st.allowed_from(st.CLOSED) == []  # final
