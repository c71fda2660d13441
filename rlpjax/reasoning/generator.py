"""Random problems with an exact op count: a DAG of quantities, rendered to text with its gold solution.

`generate_problem(op, template, mode, seed)` is a pure function of its arguments (one `random.Random` seeded from
them), so a corpus is reproducible whatever the number of worker processes.

How a graph with exactly `op` operations is built: nodes are added one at a time in topological order; `open` holds
the nodes no later node uses yet. Every action has a cost (its in-edges, see `graph.py`), and an action is taken only
if the budget left afterwards can still join all open nodes into one sink with sums of two (2 per join) -- the
fallback actions (sum of two open nodes, copy of the only open node) always keep that invariant, so the loop always
ends with a single sink, the query, whose ancestors are all nodes. Distractors are added afterwards: instances of
outer categories with no total, never used by a needed node. Reverse mode hides the value of one constant node whose
linear coefficient in the query is non-zero, and states the query's value instead.

Two keys per record: `id` hashes the text (problem, question, solution: exact deduplication), `key` hashes the gold
graph (`canonical_key`: structure and values, independent of wording order and of the solution's random variable
letters), so two renderings of one problem share a key. A fixed 1/`HELDOUT_MODULUS` of the key space is reserved
for evaluation (`is_heldout`): held-out sets draw only from it and every training stream skips it, so no training
document, corpus or RL problem is ever an evaluation problem, whatever the seeds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random

from rlpjax.reasoning import render
from rlpjax.reasoning.graph import apply_operation
from rlpjax.reasoning.templates import Template, load_template

MODES = ("forward", "reverse")
_ACTION_WEIGHTS = {"constant": 3.0, "copy": 0.5, "plus": 1.5, "times": 1.0, "sum": 1.5, "difference": 1.0,
                   "total": 2.0}
_ARITY = {"constant": 0, "copy": 1, "plus": 1, "times": 1, "sum": 2, "difference": 2}
_COSTS = {"constant": 1, "copy": 1, "plus": 2, "times": 2, "sum": 2, "difference": 2}
HELDOUT_MODULUS = 8
"""One canonical key in HELDOUT_MODULUS is reserved for evaluation problems (`is_heldout`)."""


@dataclasses.dataclass(frozen=True)
class GeneratorSettings:
    """Numeric knobs of the generator (the paper's defaults)."""

    number_range: int = 5
    """The paper's number_range: constants ("equals k", "equals k plus q") are drawn uniformly from
    1..number_range, multipliers ("equals k times q") from 2..number_range (a multiplier of 1 would be a copy)."""
    max_value: int = 1000
    """No quantity (except through the guaranteed fallback sums) exceeds this value."""
    max_distractor_fraction: float = 0.5
    """Distractors per problem: uniform in 1..max(1, round(fraction * op))."""


@dataclasses.dataclass
class Node:
    """One quantity while a problem is built; `outer` is its outer category (None for totals)."""

    name: str
    operation: str
    parents: list[int]
    constant: int | None
    value: int
    outer: int | None
    inner: int | None


def problem_seed(*parts: object) -> int:
    """A 64-bit seed derived from any printable parts (seed, stream, op, template, mode, index)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def problem_hash(problem: str, question: str, solution: str) -> str:
    """Exact-deduplication key: hex digest of (problem, question, solution)."""
    return hashlib.blake2b(f"{problem}\n{question}\n{solution}".encode(), digest_size=16).hexdigest()


def canonical_key(graph: dict) -> str:
    """Hex digest of a gold graph's structure and values: each node's normalised name, operation, parent set,
    constant and value (order-free), the query and the given quantity; the same for any rendering of a problem."""
    def norm(name: str | None) -> str | None:
        return None if name is None else " ".join(name.lower().split())

    nodes = sorted((norm(n["name"]), n["operation"], sorted(map(norm, n["parents"])), n["constant"], n["value"])
                   for n in graph["nodes"])
    text = json.dumps([nodes, norm(graph["query"]), norm(graph.get("given"))], separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def is_heldout(key: str) -> bool:
    """Whether a canonical key lies in the part of the key space reserved for evaluation."""
    return int(key[:8], 16) % HELDOUT_MODULUS == 0


def generate_problem(op: int, template: str, mode: str, seed: int,
                     settings: GeneratorSettings = GeneratorSettings()) -> dict:
    """One problem record: problem, question, solution, answer, op, template, mode, id, key and the gold graph."""
    if op < 2:
        raise ValueError(f"op count must be at least 2 (got {op}); the smallest problem is a constant and a copy")
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    tmpl = load_template(template)
    rng = random.Random(seed)
    while True:
        builder = _GraphBuilder(tmpl, rng, settings)
        needed = builder.build_needed(op)
        unknown = _pick_unknown(builder.nodes, needed, rng) if mode == "reverse" else None
        if mode == "forward" or unknown is not None:
            break
    builder.add_distractors(rng.randint(1, max(1, round(settings.max_distractor_fraction * op))))
    text = render.render_problem(builder.nodes, needed, unknown, rng)
    graph = render.gold_graph(builder.nodes, needed, unknown)
    return {"problem": text.problem, "question": text.question, "solution": text.solution,
            "answer": text.answer, "op": op, "template": tmpl.name, "mode": mode,
            "id": problem_hash(text.problem, text.question, text.solution), "key": canonical_key(graph),
            "graph": graph}


def _pick_unknown(nodes: list[Node], needed: list[int], rng: random.Random) -> int | None:
    """A constant node whose coefficient in the (linear) query is non-zero, or None if every one cancels."""
    adjoint = [0] * len(nodes)
    adjoint[needed[-1]] = 1
    for index in reversed(needed):
        node = nodes[index]
        for position, parent in enumerate(node.parents):
            local = node.constant if node.operation == "times" else 1
            if node.operation == "difference" and position == 1:
                local = -1
            adjoint[parent] += adjoint[index] * local
    candidates = [i for i in needed if nodes[i].operation == "constant" and adjoint[i] != 0]
    return rng.choice(candidates) if candidates else None


class _GraphBuilder:
    """Adds nodes under the op budget; tracks open nodes and which outer categories have their total."""

    def __init__(self, template: Template, rng: random.Random, settings: GeneratorSettings):
        self.template, self.rng, self.settings = template, rng, settings
        self.nodes: list[Node] = []
        self.open: list[int] = []
        self.instances: dict[int, list[int]] = {}
        self.closed: set[int] = set()
        self.used_pairs: set[tuple[int, int]] = set()

    def build_needed(self, op: int) -> list[int]:
        """Add nodes until exactly `op` operations feed a single sink; returns the needed node indices."""
        spent = 0
        while not (len(self.open) == 1 and spent == op):
            left = op - spent
            action = self._random_action(left) or self._fallback_action()
            spent += self._apply(action)
        return list(range(len(self.nodes)))

    def add_distractors(self, count: int) -> None:
        """Add `count` quantities no needed node depends on (instances of outers without a total)."""
        for _ in range(count):
            operation = self.rng.choice(("constant", "plus", "times", "sum", "difference", "copy"))
            parents = self._pick_parents(operation, prefer_open=False)
            candidate = self._instance(operation, parents)
            if candidate is not None and candidate.value <= self.settings.max_value:
                self.nodes.append(candidate)
                self.used_pairs.add((candidate.outer, candidate.inner))

    def _feasible(self, left_after: int, open_after: int) -> bool:
        """Whether `left_after` operations can still join `open_after` open nodes into one sink."""
        return left_after >= (2 * open_after - 2 if open_after else 1)

    def _random_action(self, left: int) -> Node | None:
        """A random affordable new node, or None after a few failed draws (budget checked before naming)."""
        totals = [o for o, members in self.instances.items() if o not in self.closed and members]
        kinds = [k for k in _ACTION_WEIGHTS if (k != "total" or totals) and (k == "constant" or self.nodes)]
        weights = [_ACTION_WEIGHTS[k] for k in kinds]
        for _ in range(4):
            kind = self.rng.choices(kinds, weights=weights)[0]
            if kind == "total":
                outer = self.rng.choice(totals)
                parents, cost = self.instances[outer], len(self.instances[outer])
            else:
                parents, cost = self._pick_parents(kind, prefer_open=True), _COSTS[kind]
            open_after = len(self.open) + 1 - sum(1 for p in parents if p in self.open)
            if not self._feasible(left - cost, open_after):
                continue
            node = self._total(outer) if kind == "total" else self._instance(kind, parents)
            if node is not None and node.value <= self.settings.max_value:
                return node
        return None

    def _fallback_action(self) -> Node:
        """The action that always keeps the budget invariant: join two open nodes, copy one, or a constant."""
        if len(self.open) >= 2:
            node = self._instance("sum", self.rng.sample(self.open, 2))
        elif len(self.open) == 1:
            node = self._instance("copy", list(self.open))
        else:
            node = self._instance("constant", [])
        if node is None:
            raise ValueError(f"template {self.template.name!r} has too few category pairs for this op count")
        return node

    def _apply(self, node: Node) -> int:
        """Append `node`, update the open set and categories; returns its cost."""
        index = len(self.nodes)
        self.nodes.append(node)
        self.open = [o for o in self.open if o not in node.parents] + [index]
        if node.outer is None:
            self.closed.add(self.nodes[node.parents[0]].outer)
        else:
            self.instances.setdefault(node.outer, []).append(index)
            self.used_pairs.add((node.outer, node.inner))
        return len(node.parents) + (1 if node.constant is not None else 0)

    def _pick_parents(self, operation: str, prefer_open: bool) -> list[int]:
        """Parents for an operation: mostly open nodes while building the needed graph, any node otherwise."""
        arity = _ARITY[operation]
        if arity > len(self.nodes):
            return []
        chosen: list[int] = []
        while len(chosen) < arity:
            pool = self.open if prefer_open and self.open and self.rng.random() < 0.75 else range(len(self.nodes))
            pick = self.rng.choice(pool)
            if pick not in chosen:
                chosen.append(pick)
        if operation == "difference" and self.nodes[chosen[0]].value < self.nodes[chosen[1]].value:
            chosen.reverse()
        return chosen

    def _instance(self, operation: str, parents: list[int]) -> Node | None:
        """A new instance quantity computed by `operation` from `parents` (None if no name or parents are left)."""
        arity = _ARITY[operation]
        pair = self._fresh_pair()
        if pair is None or len(parents) != arity:
            return None
        low = {"constant": 1, "plus": 1, "times": 2}.get(operation)
        constant = None if low is None else self.rng.randint(low, max(low, self.settings.number_range))
        value = apply_operation(operation, constant, [self.nodes[p].value for p in parents])
        return Node(self.template.instance_name(*pair), operation, parents, constant, value, *pair)

    def _total(self, outer: int) -> Node:
        """The implicit total of `outer`: the sum of all its instances so far."""
        members = list(self.instances[outer])
        value = apply_operation("total", None, [self.nodes[p].value for p in members])
        return Node(self.template.total_name(outer), "total", members, None, value, None, None)

    def _fresh_pair(self) -> tuple[int, int] | None:
        """An unused (outer, inner) pair of an outer without a total, favouring outers already in use."""
        tmpl = self.template
        used_outers = [o for o in self.instances if o not in self.closed]
        for _ in range(20):
            if used_outers and self.rng.random() < 0.6:
                outer = self.rng.choice(used_outers)
            else:
                outer = self.rng.randrange(len(tmpl.outer))
            pair = (outer, self.rng.randrange(len(tmpl.inner)))
            if outer not in self.closed and pair not in self.used_pairs:
                return pair
        free = [(o, i) for o in range(len(tmpl.outer)) if o not in self.closed for i in range(len(tmpl.inner))
                if (o, i) not in self.used_pairs]
        return self.rng.choice(free) if free else None
