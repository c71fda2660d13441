"""The grain nodes of a source's graph (streams.py) against brute-force reimplementations, and their exact resume
from every position through a JSON round trip of the state."""

import itertools
import json

import numpy as np
import pytest

from rlpjax.config_io import ConfigError
from rlpjax.data.streams import Documents, Records, RoundRobin, WindowShuffle

LENGTHS = (3, 1, 4, 2, 5)


def _leaf(values: list):
    """A Records leaf over `values` (good outcomes)."""
    return Records(lambda start: ((value, None) for value in values[start:]))


def _shards():
    return [[f"s{s}r{r}" for r in range(n)] for s, n in enumerate(LENGTHS)]


def _round_robin_brute_force(shards: list[list], cycle_length: int) -> list:
    """Round robin written out plainly: open `cycle_length` lists, take one from each in turn, refill in order."""
    pending, open_lists, out, turn = [list(s) for s in shards], [], [], 0
    while pending or open_lists:
        while len(open_lists) < cycle_length and pending:
            open_lists.append(pending.pop(0))
        turn %= len(open_lists)
        if not open_lists[turn]:
            del open_lists[turn]
            continue
        out.append(open_lists[turn].pop(0))
        turn += 1
    return out


def _every_resume_continues_exactly(dataset) -> list:
    """The whole sequence, after checking that a state saved at each position (through JSON) resumes it."""
    full = list(dataset)
    iterator = iter(dataset)
    for position in range(len(full) + 1):
        state = json.loads(json.dumps(iterator.get_state()))
        resumed = iter(dataset)
        resumed.set_state(state)
        assert list(resumed) == full[position:], position
        if position < len(full):
            assert next(iterator) == full[position]
    return full


@pytest.mark.parametrize("cycle_length", [1, 2, 4, 9])
def test_round_robin_matches_a_plain_round_robin_and_resumes_anywhere(cycle_length):
    dataset = RoundRobin([_leaf(shard) for shard in _shards()], cycle_length)
    got = [value for value, _ in _every_resume_continues_exactly(dataset)]
    assert got == _round_robin_brute_force(_shards(), cycle_length)


@pytest.mark.parametrize("window", [1, 4, 7, 100])
def test_window_shuffle_permutes_each_block_with_numpy_and_resumes_anywhere(window):
    values = list(range(23))
    dataset = WindowShuffle(_leaf(values), window, seed=11)
    got = [value for value, _ in _every_resume_continues_exactly(dataset)]
    expected = []
    for number, start in enumerate(range(0, len(values), window)):
        block = values[start:start + window]
        expected.extend(block[i] for i in np.random.default_rng([11, number]).permutation(len(block)))
    assert got == expected


def test_documents_chain_epochs_count_bad_records_and_refuse_a_source_without_one_good_record():
    epochs = {0: ["a", None, "b"], 1: ["c", "d", None]}

    def epoch(e):
        return Records(lambda start: ((v, None) if v else (None, "malformed_json") for v in epochs[e % 2][start:]))

    source = Documents(epoch, 3, "web")
    assert _every_resume_continues_exactly(source) == ["a", "b", "c", "d", "a", "b"]
    drained = iter(source)
    list(drained)
    assert drained.counts()["malformed_json"] == 3
    forever_bad = Documents(lambda e: Records(lambda start: ((None, "empty_document") for _ in range(3))), 0, "bad")
    with pytest.raises(ConfigError, match="'bad' has no usable documents .*empty_document"):
        next(iter(forever_bad))
    endless = iter(Documents(lambda e: Records(lambda s: ((e, None) for _ in range(2))), 0, "x"))
    assert list(itertools.islice(endless, 7)) == [0, 0, 1, 1, 2, 2, 3]
