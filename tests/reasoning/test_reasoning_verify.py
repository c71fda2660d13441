"""Verification and rewards: the spec's worked check, error counts, reverse traces and garbage input."""

import inspect
import random

import pytest

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.rewards import REWARDS, WEIGHTED, reward
from rlpjax.reasoning.verify import verify

DANCE = "the number of dance teachers in Riverview High"
MUSIC = "the number of music teachers in Riverview High"
TOTAL = "the total number of teachers in Riverview High"
SCHOOL = {"nodes": [{"name": DANCE, "operation": "constant", "parents": [], "constant": 3, "value": 3},
                    {"name": MUSIC, "operation": "constant", "parents": [], "constant": 5, "value": 5},
                    {"name": TOTAL, "operation": "total", "parents": [DANCE, MUSIC], "constant": None, "value": 8}],
          "query": TOTAL, "given": None}
CORRECT = (f"Define {DANCE} as a; so a = 3. Define {MUSIC} as b; so b = 5. "
           f"Define {TOTAL} as T; so T = a + b = 3 + 5 = 8. Answer: 8. </solution> <answer> 8 </answer>")
SKIPPED = f"Define {DANCE} as a; so a = 3. Define {TOTAL} as T; so T = a + 5 = 8. </solution> <answer> 8 </answer>"
WRONG = CORRECT.replace("= 8.", "= 9.").replace("<answer> 8", "<answer> 9")


def test_worked_check_correct_trace():
    result = verify(CORRECT, SCHOOL)
    assert result.process_acc == 1.0 and result.verified_correct
    assert reward("strict", result) == reward("outcome", result) == reward("process_blend", result, a=0.2) == 1.0


def test_worked_check_skipped_step():
    result = verify(SKIPPED, SCHOOL)
    assert result.process_acc == pytest.approx(1 / 3) and result.answer_correct and not result.verified_correct
    assert reward("process_blend", result, a=0.2) == pytest.approx(0.2 + 0.8 / 3)
    assert round(reward("process_blend", result, a=0.2), 3) == 0.467
    assert round(reward("process_blend", result, a=0.5), 3) == 0.667
    assert reward("strict", result) == 0.0
    assert reward("gated_blend", result, a=0.2) == pytest.approx(1.0 * (0.2 + 0.8 / 3))
    assert (result.missing_nodes, result.dependency_errors, result.value_errors) == (1, 1, 0)


def test_worked_check_wrong_final_value():
    result = verify(WRONG, SCHOOL)
    assert reward("outcome", result) == 0.0 and reward("gated_blend", result) == 0.0
    assert result.process_acc == pytest.approx(2 / 3) and result.value_errors == 1 and result.answer_error == 1
    assert reward("process_blend", result, a=0.2) == pytest.approx(0.8 * 2 / 3)
    assert "is not 8" in result.reason


def test_extra_nodes_do_not_lower_process_acc_and_names_not_letters_matter():
    extra = CORRECT.replace("Define", "Define the number of art teachers in Riverview High as z; so z = 1. Define",
                            1)
    renamed = CORRECT.replace(" a;", " q;").replace("a = 3", "q = 3").replace("a + b", "q + b")
    for text in (extra, renamed):
        result = verify(text, SCHOOL)
        assert result.verified_correct, result
    assert verify(extra, SCHOOL).extra_nodes == 1


def test_helper_variables_resolve_transitively_and_full_documents_are_accepted():
    helper = (f"Define {DANCE} as a; so a = 3. Define {MUSIC} as b; so b = 5. "
              f"Define {TOTAL} as T; so h = a + b = 8; T = h = 8. </solution> <answer> 8 </answer>")
    assert verify(helper, SCHOOL).verified_correct
    document = f"<question> problem text. What is it? </question> <solution> {CORRECT}"
    assert verify(document, SCHOOL).verified_correct


def test_reverse_trace_values_use_the_solved_unknown():
    graph = {"nodes": [{"name": DANCE, "operation": "unknown", "parents": [], "constant": 3, "value": 3},
                       {"name": MUSIC, "operation": "plus", "parents": [DANCE], "constant": 2, "value": 5}],
             "query": DANCE, "given": MUSIC}
    trace = (f"Define {DANCE} as x; we don't know its value yet but will find it out later. Define {MUSIC} as m; "
             "so m = 2 + x. So we have the equation x + 2 = 5; we solve it: x = 5 - 2 = 3. Solution: x = 3. "
             "Answer: 3. </solution> <answer> 3 </answer>")
    assert verify(trace, graph).verified_correct
    wrong = trace.replace("= 3.", "= 4.").replace("<answer> 3", "<answer> 4")
    result = verify(wrong, graph)
    assert result.process_acc == 0.0 and not result.answer_correct


def _garbage(rng):
    yield ""
    yield bytes(rng.randrange(256) for _ in range(5000)).decode("latin-1")
    yield "Define the total number of teachers in Riverview High as T; so T = " + "9" * 5000 + " * " + "9" * 5000
    yield f"Define {TOTAL} as T; so T = 8 / 0 = 1 / (3 - 3). <answer> 1/0 </answer>"
    yield f"Define {TOTAL} as T; so T = ((3 + 5 = 8)). <answer> (((8 </answer>"
    yield f"Define {TOTAL} as T; so T = " + "(" * 5000 + "8" + ")" * 5000 + ". <answer> 8 </answer>"
    yield f"Define {TOTAL} as T; so T = " + "-" * 3000 + "8. <answer>" + "9" * 400 + "</answer>"
    yield "Define as ; so = = = ; Define x as x; x = x = x. <answer></answer>" * 200
    yield f"Define {TOTAL} as T; so T = 99999999999 * 99999999999 * 99999999999 * 99999999999 = 1e400"
    yield "".join(rng.choice("Define as ;=+-*/()0123456789xyzT.<answer></answer> \n") for _ in range(20000))


def test_garbage_never_raises_and_scores_zero():
    for text in _garbage(random.Random(0)):
        result = verify(text, SCHOOL)
        assert not result.verified_correct
        assert result.reason
        assert reward("strict", result) == 0.0
        assert all(0.0 <= reward(name, result) <= 1.0 for name in REWARDS)


def test_reward_registry_errors():
    result = verify(CORRECT, SCHOOL)
    with pytest.raises(ConfigError, match="unknown reward"):
        reward("nope", result)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        reward("process_blend", result, a=1.5)
    assert reward("outcome", result, a=0.7) == reward("outcome", result)  # unweighted: no parameter to take


def test_weighted_rewards_are_those_taking_the_blend_weight():
    """The registry's `weighted` flag matches each reward function's signature."""
    assert WEIGHTED == {name for name, fn in REWARDS.items() if "a" in inspect.signature(fn).parameters}
