"""Every named reward on a table of traces, against values computed by hand (not by the code under test).

Gold: the spec's school problem, |V| = 3 nodes (dance = 3, music = 5, total = dance + music = 8, the answer).
Per trace the comment gives the verifier's counts; then ProcessAcc, the authors' R_pv' = max(0, 1 - penalties / 3),
and each reward at a = 0.2 worked out on paper:
    blend  = 0.2 * R_out + 0.8 * ProcessAcc        gated = R_out * (0.2 + 0.8 * ProcessAcc)
    a_gated = R_out * (0.2 + 0.8 * R_pv')          strict / a_strict: 1 or 0
"""

import pytest

from rlpjax.reasoning.rewards import REWARDS, reward
from rlpjax.reasoning.verify import verify

DANCE = "the number of dance teachers in Riverview High"
MUSIC = "the number of music teachers in Riverview High"
ART = "the number of art teachers in Riverview High"
TOTAL = "the total number of teachers in Riverview High"
SCHOOL = {"nodes": [{"name": DANCE, "operation": "constant", "parents": [], "constant": 3, "value": 3},
                    {"name": MUSIC, "operation": "constant", "parents": [], "constant": 5, "value": 5},
                    {"name": TOTAL, "operation": "total", "parents": [DANCE, MUSIC], "constant": None, "value": 8}],
          "query": TOTAL, "given": None}
STEP_D, STEP_M = f"Define {DANCE} as a; so a = 3.", f"Define {MUSIC} as b; so b = 5."
STEP_T = f"Define {TOTAL} as T; so T = a + b = 3 + 5 = 8."
END = " </solution> <answer> 8 </answer>"

TRACES = {
    # counts: value, dependency, missing, extra, answer -> penalties
    "correct": f"{STEP_D} {STEP_M} {STEP_T}{END}",  # 0 0 0 0 0 -> 0
    # music missing, total's parents are {dance}: 0 1 1 0 0 -> 2
    "skipped step": f"{STEP_D} Define {TOTAL} as T; so T = a + 5 = 8.{END}",
    # total = 9 and answer 9: 1 0 0 0 1 -> 2
    "wrong final value": f"{STEP_D} {STEP_M} Define {TOTAL} as T; so T = a + b = 9. </solution> <answer> 9 </answer>",
    # music = 4, the total still written as 8: 1 0 0 0 0 -> 1
    "one wrong step": f"{STEP_D} Define {MUSIC} as b; so b = 4. Define {TOTAL} as T; so T = a + b = 8.{END}",
    "answer only": END,  # 0 0 3 0 0 -> 3
    "no answer tag": f"{STEP_D} {STEP_M} {STEP_T} </solution>",  # 0 0 0 0 1 -> 1
    "extra distractor node": f"Define {ART} as z; so z = 1. {STEP_D} {STEP_M} {STEP_T}{END}",  # 0 0 0 1 0 -> 1
    "distractor as parent": (f"Define {ART} as z; so z = 1. {STEP_D} Define {MUSIC} as b; so b = z + 4 = 5. "
                             f"{STEP_T}{END}"),  # music's parents {art}: 0 1 0 1 0 -> 2
}

# trace: (value, dependency, missing, extra, answer errors), ProcessAcc, R_pv', then the rewards
COLUMNS = ("outcome", "process_blend", "strict", "gated_blend", "authors_process", "authors_gated", "authors_strict")
EXPECTED = {
    #                          counts           ProcessAcc  R_pv'   out  blend   strict gated   a_proc  a_gated a_strict
    "correct":               ((0, 0, 0, 0, 0), 1.0,    1.0,    1.0, 1.0,    1.0,   1.0,    1.0,    1.0,    1.0),
    "skipped step":          ((0, 1, 1, 0, 0), 0.3333, 0.3333, 1.0, 0.4667, 0.0,   0.4667, 0.3333, 0.4667, 0.0),
    "wrong final value":     ((1, 0, 0, 0, 1), 0.6667, 0.3333, 0.0, 0.5333, 0.0,   0.0,    0.3333, 0.0,    0.0),
    "one wrong step":        ((1, 0, 0, 0, 0), 0.6667, 0.6667, 1.0, 0.7333, 0.0,   0.7333, 0.6667, 0.7333, 0.0),
    "answer only":           ((0, 0, 3, 0, 0), 0.0,    0.0,    1.0, 0.2,    0.0,   0.2,    0.0,    0.2,    0.0),
    "no answer tag":         ((0, 0, 0, 0, 1), 1.0,    0.6667, 0.0, 0.8,    0.0,   0.0,    0.6667, 0.0,    0.0),
    "extra distractor node": ((0, 0, 0, 1, 0), 1.0,    0.6667, 1.0, 1.0,    1.0,   1.0,    0.6667, 0.7333, 0.0),
    "distractor as parent":  ((0, 1, 0, 1, 0), 0.6667, 0.3333, 1.0, 0.7333, 0.0,   0.7333, 0.3333, 0.4667, 0.0),
}


def test_the_table_covers_every_registered_reward():
    assert set(COLUMNS) == set(REWARDS)


@pytest.mark.parametrize("name", list(TRACES))
def test_hand_computed_rewards(name):
    counts, process_acc, authors_pv, *rewards = EXPECTED[name]
    result = verify(TRACES[name], SCHOOL)
    assert (result.value_errors, result.dependency_errors, result.missing_nodes, result.extra_nodes,
            result.answer_error) == counts
    assert result.gold_nodes == 3 and result.penalties == sum(counts)
    assert result.process_acc == pytest.approx(process_acc, abs=1e-4)
    assert reward("authors_process", result) == pytest.approx(authors_pv, abs=1e-4)
    for column, expected in zip(COLUMNS, rewards, strict=True):
        assert reward(column, result, a=0.2) == pytest.approx(expected, abs=1e-4), column


def test_authors_process_clips_at_zero():
    # answer only, wrong answer: 3 missing + 1 answer = 4 penalties > |V| = 3 -> 1 - 4/3 < 0 -> 0
    result = verify(" </solution> <answer> 7 </answer>", SCHOOL)
    assert result.penalties == 4 and reward("authors_process", result) == 0.0
