"""Op counting on hand-built graphs (spec: constant 1, copy 1, sum of two 2, constant edges count)."""

from rlpjax.reasoning.graph import apply_operation, needed_nodes, op_count


def _node(name, operation, parents=(), constant=None, value=0):
    return {"name": name, "operation": operation, "parents": list(parents), "constant": constant, "value": value}


def test_single_constant_counts_one():
    assert op_count({"nodes": [_node("a", "constant", constant=3)], "query": "a", "given": None}) == 1


def test_copy_and_sum_of_two():
    nodes = [_node("a", "constant", constant=3), _node("b", "copy", ["a"])]
    assert op_count({"nodes": nodes, "query": "b", "given": None}) == 2
    nodes += [_node("c", "constant", constant=1), _node("d", "sum", ["b", "c"])]
    assert op_count({"nodes": nodes, "query": "d", "given": None}) == 1 + 1 + 1 + 2


def test_constant_edge_of_plus_and_times_counts():
    nodes = [_node("a", "constant", constant=2), _node("b", "plus", ["a"], 3), _node("c", "times", ["b"], 2)]
    assert op_count({"nodes": nodes, "query": "c", "given": None}) == 1 + 2 + 2


def test_total_counts_each_instance_and_only_needed_nodes_count():
    nodes = [_node("a", "constant", constant=2), _node("b", "constant", constant=4), _node("c", "constant", constant=1),
             _node("t", "total", ["a", "b", "c"]), _node("unused", "difference", ["b", "a"])]
    graph = {"nodes": nodes, "query": "t", "given": None}
    assert needed_nodes(graph) == {"a", "b", "c", "t"}
    assert op_count(graph) == 3 + 3


def test_reverse_mode_counts_like_its_forward_problem():
    forward = [_node("a", "constant", constant=2), _node("b", "constant", constant=5), _node("s", "sum", ["a", "b"])]
    reverse = [_node("a", "unknown", constant=2), *forward[1:]]
    assert op_count({"nodes": forward, "query": "s", "given": None}) == 4
    # the question asks for the unknown "a"; the needed nodes are the ancestors of the stated quantity "s"
    assert op_count({"nodes": reverse, "query": "a", "given": "s"}) == 4


def test_apply_operation_table():
    assert apply_operation("plus", 3, [4]) == 7
    assert apply_operation("times", 3, [4]) == 12
    assert apply_operation("difference", None, [9, 4]) == 5
    assert apply_operation("total", None, [1, 2, 3]) == 6
    assert apply_operation("copy", None, [6]) == 6
