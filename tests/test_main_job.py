"""`rlpjax main` end to end at the tiny scale: the same code path as the default job, every stage a few steps.

Checks the run directory (corpora and their renders, tokenizer, five arms with config.json and metrics.jsonl, eval
results), that report.md holds the pass@k table of every arm, the paired differences, the compute section and the
reading, that summary.json keeps the contract a reader script depends on, that the plots exist, that CPT's FLOPs
match RLP's to within one CPT step and mid-training's stay within the GRPO budget (the planner rounds down), and
that a rerun resumes (keeps the finished stages) while a rerun with other settings is refused.
"""

from __future__ import annotations

import argparse
import json

import pytest

from rlpjax import main_job
from rlpjax.config_io import ConfigError


def _args(out, *extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    main_job.add_arguments(parser)
    return parser.parse_args(["--scale", "tiny", "--out", str(out), "--no-progress", *extra])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("main") / "run"
    assert main_job.run(_args(out)) == 0
    return out


ARMS = ("base", "rlp", "cpt", "grpo", "mid")


def test_run_directory_holds_every_stage(finished_run):
    assert list((finished_run / "corpus" / "problems").glob("pretrain-*.jsonl"))
    assert list((finished_run / "corpus" / "documents").glob("continue-*.jsonl"))
    assert list((finished_run / "corpus" / "mid_documents").glob("mid-*.jsonl"))
    assert (finished_run / "tokenizer" / "tokenizer.json").is_file()
    for arm in ARMS:
        assert (finished_run / arm / "config.json").is_file(), arm
        assert (finished_run / arm / "metrics.jsonl").read_text().strip(), arm
        assert json.loads((finished_run / "eval" / arm / "results.json").read_text()), arm
    for plot in ("loss_curves.png", "rl_rewards.png", "passk_by_op.png"):
        assert (finished_run / plot).stat().st_size > 1000, plot


def test_documents_carry_every_render_and_the_arms_read_the_right_corpora(finished_run):
    def read(pattern):
        return [json.loads(line) for path in (finished_run / "corpus" / "documents").glob(pattern)
                for line in path.read_text().splitlines()]

    docs = read("pretrain-*.jsonl")
    continuation = read("*continue-*.jsonl")
    assert continuation and all(d["kind"] == "direct" for d in continuation)
    assert {d["op"] for d in continuation} == {2, 3}  # the tiny scale's train op 2 and edge op 3
    by_kind = {kind: [d for d in docs if d["kind"] == kind] for kind in ("solution", "think", "direct")}
    assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
    assert all("<think>" in d["text"] and "<solution>" not in d["text"] for d in by_kind["think"])
    assert all("<think>" not in d["text"] and "<solution>" not in d["text"] for d in by_kind["direct"])
    rlp = json.loads((finished_run / "rlp" / "config.json").read_text())
    assert rlp["rlp"]["position_strategy"] == "after_token" and rlp["rlp"]["position_token"] == "</question>"
    assert rlp["data"]["sources"][0]["path"].endswith("documents/*continue-*.jsonl")
    base = json.loads((finished_run / "base" / "config.json").read_text())
    assert base["data"]["mode"] == "packed_whole" and base["optimizer"]["schedule"] == "wsd"
    grpo = json.loads((finished_run / "grpo" / "config.json").read_text())
    assert grpo["grpo"]["ops"] == [3] and grpo["grpo"]["reward"]


def test_summary_json_keeps_its_contract(finished_run):
    summary = json.loads((finished_run / "summary.json").read_text())
    assert summary["arms"] == list(ARMS) and summary["problems_per_op"] == 2
    ks = [str(k) for k in summary["ks"]]
    assert ks[0] == "1"
    for arm in ARMS:
        assert set(summary["by_op"][arm]) == {"2", "3"}
        for table in [*summary["by_op"][arm].values(), summary["overall"][arm]]:
            assert list(table) == ks and all(0.0 <= p <= 1.0 for p in table.values())
        assert summary["flops"][arm] > 0
    assert 0.0 <= summary["truncated_frac"] <= 1.0 and summary["wall_s"] > 0
    pairs = {(p["a"], p["b"]) for p in summary["paired"]}
    assert {("rlp", "cpt"), ("grpo", "mid")} <= pairs


def test_report_has_the_passk_table_for_every_arm(finished_run):
    report = (finished_run / "report.md").read_text()
    for arm in ARMS:
        for k in (1, 2):
            assert f"pass@{k} {arm.upper()}" in report
    assert "| **all** |" in report and "unbiased pass@k" in report and "| RLP - CPT | 1 |" in report
    for section in ("## Reading", "## What was run", "## Compute of each arm", "### Paired differences",
                    "## Where RLP's thoughts helped", "## Sample thoughts", "![pass@k by op](passk_by_op.png)",
                    "![RL rewards](rl_rewards.png)"):
        assert section in report, section


def test_probe_thinks_where_rlp_thinks_and_scores_the_answer(finished_run):
    for arm in ("base", "rlp"):
        lines = (finished_run / "eval" / f"thoughts_{arm}.jsonl").read_text().splitlines()
        probed = [json.loads(line) for line in lines]
        assert {p["op"] for p in probed} == {2, 3} and len(probed) == 2 * 2 * 2  # ops x probe_docs x group
        # The scored tokens follow `</question>` in a direct document: the answer tag, then the answer.
        assert all(p["scored"].lstrip().startswith("<answer>") for p in probed), probed[0]["scored"]


def test_matched_arms_spend_the_compute_of_their_pair(finished_run):
    state = json.loads((finished_run / "main_state.json").read_text())
    cost = state["stages"]["cpt"]["compute"]
    one_step = cost["cpt_flops"] / cost["cpt_steps"]
    assert abs(cost["cpt_flops"] - cost["rlp_flops"]) <= one_step / 2 or cost["cpt_steps"] == 1
    assert cost["thought_len_source"] == "measured"
    mid = state["stages"]["mid"]["compute"]
    mid_step = mid["mid_flops"] / mid["mid_steps"]
    assert mid["mid_steps"] == 1 or mid["grpo_flops"] - mid_step < mid["mid_flops"] <= mid["grpo_flops"]


def test_rerun_resumes_and_other_settings_are_refused(finished_run, capsys):
    before = json.loads((finished_run / "main_state.json").read_text())["stages"]["base"]["seconds"]
    assert main_job.run(_args(finished_run)) == 0
    output = capsys.readouterr().out
    assert "base: done earlier, kept" in output and "report:" in output
    assert json.loads((finished_run / "main_state.json").read_text())["stages"]["base"]["seconds"] == before
    with pytest.raises(ConfigError, match="other settings"):
        main_job.run(_args(finished_run, "--rlp-steps", "3"))
