"""Mixtures as configuration: the composition of every preset, exact part counts, the stream's shares, bad input."""

import itertools
import re

import pytest

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.corpora import iter_documents
from rlpjax.reasoning.generator import generate_problem
from rlpjax.reasoning.mixtures import (PRESETS, apportion, cell_weights, get_mixture, mixture_quotas, parse_mixture,
                                       part_counts)


def _share(weights, ops=None, template=None):
    return sum(w for (op, t, _m), w in weights.items()
               if (ops is None or ops[0] <= op <= ops[1]) and (template is None or t == template))


# preset: ({(first op, last op, template or None): share}, templates present); written out from the paper's settings
COMPOSITION = {
    "pretrain": ({(2, 4, None): 0.2, (5, 7, None): 0.3, (8, 10, None): 0.5, (2, 10, "A"): 1 / 3,
                  (2, 10, "B"): 1 / 3, (2, 10, "C"): 1 / 3}, "ABC"),
    "midtrain": ({(2, 10, None): 0.2, (11, 14, None): 0.8, (2, 14, "C"): 1 / 3}, "ABC"),
    "transfer-b0": ({(2, 20, "A"): 1.0, (2, 2, "A"): 1 / 19}, "A"),
    "transfer-b0.1": ({(2, 20, "A"): 0.999, (2, 2, "B"): 0.001, (3, 20, "B"): 0.0}, "AB"),
    "transfer-b1": ({(2, 20, "A"): 0.99, (2, 2, "B"): 0.01, (3, 20, "B"): 0.0, (2, 2, "A"): 0.99 / 19}, "AB"),
    "transfer-b10": ({(2, 20, "A"): 0.9, (2, 2, "B"): 0.1, (3, 20, "B"): 0.0}, "AB"),
    "headroom-h0.1": ({(2, 4, None): 0.3996, (5, 7, None): 0.5994, (8, 10, None): 0.001}, "ABC"),
    "headroom-h1": ({(2, 4, None): 0.396, (5, 7, None): 0.594, (8, 10, None): 0.01}, "ABC"),
    "headroom-h10": ({(2, 4, None): 0.36, (5, 7, None): 0.54, (8, 10, None): 0.1}, "ABC"),
    "headroom-h50": ({(2, 4, None): 0.2, (5, 7, None): 0.3, (8, 10, None): 0.5}, "ABC"),
}


def test_every_preset_has_its_composition():
    assert set(COMPOSITION) == set(PRESETS)
    for preset, (shares, templates) in COMPOSITION.items():
        weights = cell_weights(preset)
        assert sum(weights.values()) == pytest.approx(1.0)
        assert {t for (_o, t, _m) in weights} == set(templates), preset
        assert {m for (_o, _t, m) in weights} == {"forward", "reverse"}
        for (low, high, template), share in shares.items():
            assert _share(weights, (low, high), template) == pytest.approx(share), (preset, low, high, template)


def test_exact_part_counts_of_small_corpora():
    # 3,000 problems at a 0.1% seed: exactly 3 B problems, all at op 2 (B was rounded away when spread over ops)
    quotas = mixture_quotas("transfer-b0.1", 3000)
    assert sum(quotas.values()) == 3000
    assert sum(n for (op, t, _m), n in quotas.items() if t == "B") == 3
    assert {op for (op, t, _m), n in quotas.items() if t == "B" and n} == {2}
    assert [p["count"] for p in part_counts("transfer-b1", 3000)] == [2970, 30]
    assert [p["count"] for p in part_counts("headroom-h0.1", 1000)] == [400, 599, 1]  # 399.6, 599.4, 1.0
    with pytest.raises(ConfigError, match="no problem of part 8-10:0.001.*at least 1000 problems"):
        part_counts("headroom-h0.1", 400)
    assert apportion({"a": 1.0, "b": 1.0, "c": 1.0}, 4) == {"a": 2, "b": 1, "c": 1}


def test_mixture_text_round_trips_and_overlapping_parts_add_up():
    for preset in PRESETS:
        mixture = get_mixture(preset)
        assert parse_mixture(mixture.text()) == mixture
    mixed = parse_mixture("2-3:0.5@A=0.5,B=0.5;3:0.5@A;modes=forward")
    assert cell_weights(mixed) == pytest.approx({(2, "A", "forward"): 0.125, (2, "B", "forward"): 0.125,
                                                 (3, "A", "forward"): 0.625, (3, "B", "forward"): 0.125})
    assert mixture_quotas(mixed, 8) == {(2, "A", "forward"): 1, (2, "B", "forward"): 1, (3, "A", "forward"): 5,
                                        (3, "B", "forward"): 1}


def test_the_stream_follows_the_part_shares_in_every_prefix():
    documents = list(itertools.islice(iter_documents("transfer-b1", seed=3), 3000))
    is_b = ["teachers" in text for text in documents]
    for n in (100, 500, 1000, 3000):
        assert abs(sum(is_b[:n]) - 0.01 * n) <= 2, n
    # B documents are op-2 problems: a constant and a copy, two solution steps
    assert all(text.count("Define ") == 2 for text, b in zip(documents, is_b) if b)


@pytest.mark.parametrize("spec, message", [
    ("2-20:0.9@A;2:0.2@B", "part shares sum to 1.1; make them sum to 1"),
    ("2-20:1@A=0.5,B=0.4", "template shares sum to 0.9; make them sum to 1"),
    ("2-20:1@Z", "template 'Z' not found"),
    ("1-4:1", "op range '1-4' is not an op count or range of at least 2"),
    ("9-4:1", "op range '9-4'"),
    ("x:1", "op range 'x'"),
    ("2-4", "is not OPS:SHARE"),
    ("2-4:1.5", "share '1.5' is not a number in"),
    ("2-4:1;modes=up", "modes must be among"),
    ("nope", "unknown corpus preset"),
])
def test_bad_mixtures_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        get_mixture(spec)
    assert "\n" not in str(error.value)


def test_constants_and_multipliers_lie_in_the_paper_ranges():
    seen = {"times": set(), "plus": set(), "constant": set()}
    for seed in range(300):
        for node in generate_problem(8, "A", "forward", seed)["graph"]["nodes"]:
            if node["operation"] in seen:
                seen[node["operation"]].add(node["constant"])
    assert seen["times"] == {2, 3, 4, 5} and seen["plus"] == seen["constant"] == {1, 2, 3, 4, 5}
    texts = [generate_problem(6, "B", "forward", seed)["problem"] for seed in range(200)]
    assert not any(" 1 times " in text for text in texts)
