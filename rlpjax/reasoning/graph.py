"""The gold graph of a problem as plain data, and its op count.

A gold graph is JSON-ready:

    {"nodes": [{"name": str, "operation": str, "parents": [str, ...], "constant": int | None, "value": int}, ...],
     "query": str,            # the quantity the question asks for
     "given": str | None}     # reverse mode only: the quantity whose value the question states

`nodes` holds exactly the quantities needed for the answer (distractors are left out), in topological order.
Operations and their values (k = `constant`, p = parent values in order):

    constant   k                 unknown   the reverse-mode unknown ("exists and is greater than 0")
    copy       p0                plus      k + p0            times   k * p0
    sum        p0 + p1           difference p0 - p1          total   sum(p) (implicit: never stated in the text)

Op count (the paper's difficulty): the sum over the needed nodes of their in-edges, where the edge from the random
constant counts too: constant 1, copy 1, plus/times 2, sum/difference 2, total len(parents). In reverse mode the
needed nodes are the ancestors of `given`; the unknown counts 1 (its hidden constant), so a reverse problem has the
op count of the forward problem it was made from.
"""

from __future__ import annotations

USES_CONSTANT = {"constant": True, "unknown": True, "plus": True, "times": True,
                 "copy": False, "sum": False, "difference": False, "total": False}


def apply_operation(operation: str, constant: int | None, parents: list[int]) -> int:
    """Value of a node from its operation, constant and parent values (the table in the module docstring)."""
    if operation in ("constant", "unknown"):
        return constant
    if operation == "plus":
        return constant + parents[0]
    if operation == "times":
        return constant * parents[0]
    if operation == "difference":
        return parents[0] - parents[1]
    if operation in ("copy", "sum", "total"):
        return sum(parents)
    raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(USES_CONSTANT)}")


def node_cost(node: dict) -> int:
    """In-edges of one node, counting the edge from the random constant."""
    return len(node["parents"]) + int(USES_CONSTANT[node["operation"]])


def needed_nodes(graph: dict) -> set[str]:
    """Names of the nodes the answer depends on: `given` (reverse) or `query` (forward) and all its ancestors."""
    parents = {node["name"]: node["parents"] for node in graph["nodes"]}
    stack = [graph.get("given") or graph["query"]]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(parents[name])
    return seen


def op_count(graph: dict) -> int:
    """The problem's op count (see the module docstring)."""
    needed = needed_nodes(graph)
    return sum(node_cost(node) for node in graph["nodes"] if node["name"] in needed)
