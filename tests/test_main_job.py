"""`rlpjax main` end to end at the tiny scale: the same code path as the default job, every stage a few steps.

Checks the run directory (corpus, tokenizer, three arms with config.json and metrics.jsonl, eval results), that
report.md holds the pass@k table for base, CPT and RLP, the compute section and the reading, that the plots exist,
that CPT's FLOPs match RLP's to within one CPT step, and that a rerun resumes (keeps the finished stages) while a
rerun with other settings is refused.
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


def test_run_directory_holds_every_stage(finished_run):
    assert list((finished_run / "corpus").glob("train-*.jsonl"))
    assert (finished_run / "tokenizer" / "tokenizer.json").is_file()
    for arm in ("base", "rlp", "cpt"):
        assert (finished_run / arm / "config.json").is_file()
        assert (finished_run / arm / "metrics.jsonl").read_text().strip()
        assert json.loads((finished_run / "eval" / arm / "results.json").read_text())
    for plot in ("loss_curves.png", "rlp_reward.png", "passk_by_op.png"):
        assert (finished_run / plot).stat().st_size > 1000, plot


def test_report_has_the_passk_table_for_three_arms(finished_run):
    report = (finished_run / "report.md").read_text()
    for column in ("pass@1 BASE", "pass@1 CPT", "pass@1 RLP", "pass@2 BASE", "pass@2 CPT", "pass@2 RLP"):
        assert column in report
    assert "| **all** |" in report and "unbiased pass@k" in report
    for section in ("## Reading", "## What was run", "## Compute of each arm", "## Where RLP's thoughts helped",
                    "## Sample thoughts", "![pass@k by op](passk_by_op.png)", "![RLP reward](rlp_reward.png)"):
        assert section in report, section


def test_cpt_is_flop_matched_to_rlp(finished_run):
    state = json.loads((finished_run / "main_state.json").read_text())
    cost = state["stages"]["cpt"]["compute"]
    one_step = cost["cpt_flops"] / cost["cpt_steps"]
    assert abs(cost["cpt_flops"] - cost["rlp_flops"]) <= one_step / 2 or cost["cpt_steps"] == 1
    assert cost["thought_len_source"] == "measured"


def test_rerun_resumes_and_other_settings_are_refused(finished_run, capsys):
    before = json.loads((finished_run / "main_state.json").read_text())["stages"]["base"]["seconds"]
    assert main_job.run(_args(finished_run)) == 0
    output = capsys.readouterr().out
    assert "base: done earlier, kept" in output and "report:" in output
    assert json.loads((finished_run / "main_state.json").read_text())["stages"]["base"]["seconds"] == before
    with pytest.raises(ConfigError, match="other settings"):
        main_job.run(_args(finished_run, "--rlp-steps", "3"))
