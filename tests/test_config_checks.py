"""Every config mistake is one line before JAX starts: ranges, cross-field rules, broken presets, typos."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlpjax import config_io
from rlpjax.cli import main
from rlpjax.config import DataConfig
from rlpjax.config_io import ConfigError

# (overrides, a word the one-line message must contain): the probes of issue 14 that were tracebacks or silently
# accepted before this pass existed.
SHORT_RLP = ["run.objective=rlp", "rlp.max_thought_tokens=8"]
"""RLP with thoughts short enough for the default model.max_seq_len (the default cap is 2048)."""
BAD_OVERRIDES = [
    (["model.hidden_size=0"], "model.hidden_size"),
    (["model.num_layers=0"], "model.num_layers"),
    (["run.log_every=0"], "run.log_every"),
    (["run.steps=-1"], "run.steps"),
    (["run.steps=0"], "run.steps"),
    (["checkpoint.every_steps=-1"], "checkpoint.every_steps"),
    (["optimizer.grad_accum_steps=0"], "optimizer.grad_accum_steps"),
    (["optimizer.grad_accum_steps=3", "data.global_batch_size=8"], "does not divide"),
    (["optimizer.learning_rate=0"], "optimizer.learning_rate"),
    (["optimizer.learning_rate=-1e-3"], "optimizer.learning_rate"),
    (["data.seq_len=4096", "model.max_seq_len=2048"], "model.max_seq_len"),
    (["run.objective=rlp", "rlp.max_thought_tokens=0"], "rlp.max_thought_tokens"),
    (["run.objective=rlp", "rlp.positions_per_doc=0"], "rlp.positions_per_doc"),
    (["run.objective=rlp", "rlp.pg.ppo_epochs=0"], "rlp.pg.ppo_epochs"),
    (["run.objective=rlp", "rlp.horizon=0"], "rlp.horizon"),
    (["run.objective=rlp", "rlp.group_size=1"], "rlp.group_size"),
    (["run.objective=rlp", "rlp.pg.minibatches=3"], "rlp.pg.minibatches"),
    (["run.objective=rlp", "data.seq_len=128", "model.max_seq_len=136", "rlp.max_thought_tokens=8"], "max_seq_len"),
    (["rlp.sampling.top_p=1.5"], "rlp.sampling.top_p"),
    (["rlp.ema_tau=0"], "rlp.ema_tau"),
    # typed choices (issue 15): a misspelt name is one line naming the field and its choices
    (["rlp.position_strategy=surprise"], "rlp.position_strategy='surprise' is not one of uniform, stride"),
    (["optimizer.schedule=cosin"], "optimizer.schedule"),
    (["model.family=gpt2"], "model.family"),
    (["model.param_dtype=float64"], "model.param_dtype"),
    (["data.mode=pack"], "data.mode"),
    (["run.objective=dpo"], "run.objective"),
    (["run.trackers=tensorboard,mlflow"], "run.trackers='mlflow' is not one of tensorboard"),
    (["data.sources.0.format=csv"], "data.sources.0.format"),
    (["grpo.reward=outcom"], "grpo.reward='outcom' is not one of"),
    # cross-field rules that were checked only when the first step was built
    ([*SHORT_RLP], "data.mode=documents"),
    ([*SHORT_RLP, "data.mode=documents", "rlp.position_strategy=after_token"], "rlp.position_token"),
    (["run.objective=rlp", "rlp.max_thought_tokens=4", "rlp.min_thought_tokens=4"], "rlp.min_thought_tokens"),
    ([*SHORT_RLP, "rlp.group_size=4", "rlp.rollout_microbatch_rows=6"], "rlp.rollout_microbatch_rows"),
    ([*SHORT_RLP, "rlp.group_size=4", "rlp.rollout_microbatch_rows=12"], "dividing the rollout's 32 branch rows"),
    ([*SHORT_RLP, "rlp.think_ids=5"], "rlp.think_ids"),
    (["run.objective=grpo", "grpo.pg.minibatches=3"], "grpo.pg.minibatches"),
    (["run.objective=grpo", "grpo.edge_pass_low=0.5", "grpo.edge_pass_high=0.5"], "grpo.edge_pass_low"),
    (["run.objective=grpo", "grpo.ops=1,2"], "grpo.ops"),
    (["run.objective=grpo", "grpo.overlong_buffer=1024"], "grpo.overlong_buffer"),
    (["run.objective=grpo", "grpo.dynamic_sampling_rounds=0"], "grpo.dynamic_sampling_rounds"),
    (["grpo.pg.policy_loss=gspo_token"], "grpo.pg.policy_loss='gspo_token' is not one of"),
    (["rlp.pg.advantage=rloo"], "rlp.pg.advantage='rloo' is not one of"),
    (["run.objective=grpo", "grpo.modes=sideways"], "grpo.modes"),
    (["mesh.data=3", "mesh.fsdp=1"], "mesh.data x mesh.fsdp = 3"),
    (["optimizer.schedule=wsd", "optimizer.decay_fraction=0"], "optimizer.decay_fraction"),
]


@pytest.mark.parametrize("overrides,needle", BAD_OVERRIDES, ids=[" ".join(o) for o, _ in BAD_OVERRIDES])
def test_out_of_range_and_inconsistent_fields_are_one_line_errors(overrides, needle):
    with pytest.raises(ConfigError) as err:
        config_io.resolve(None, overrides)
    message = str(err.value)
    assert needle in message and "\n" not in message, message


def test_defaults_and_valid_overrides_pass():
    cfg = config_io.resolve(None, ["run.steps=1", "checkpoint.every_steps=0", "run.eval_every=0"])
    assert cfg.run.steps == 1


def test_misspelt_section_suggests_the_real_key():
    with pytest.raises(ConfigError, match="model.num_layers"):
        config_io.resolve(None, ["modle.num_layers=4"])


def test_preset_with_a_syntax_error_is_one_line(tmp_path):
    preset = tmp_path / "broken.py"
    preset.write_text("from rlpjax.config import Config\nCONFIG = Config(\n")
    with pytest.raises(ConfigError, match="syntax error at line"):
        config_io.resolve(str(preset))


def test_cli_exits_2_before_jax_starts(capsys):
    assert main(["train", "run.log_every=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run.log_every" in err[0], err


def test_version_flag():
    out = subprocess.run([sys.executable, "-m", "rlpjax.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("rlpjax ")


def test_sources_can_be_added_from_the_command_line():
    cfg = config_io.resolve(None, ["data.sources.1.path=extra.jsonl", "data.sources.1.weight=0.5",
                                   "data.eval_sources.0.path=held_out.jsonl"])
    assert [s.path for s in cfg.data.sources] == ["", "extra.jsonl"] and cfg.data.sources[1].weight == 0.5
    assert cfg.data.eval_sources[0].path == "held_out.jsonl"
    with pytest.raises(ConfigError, match="out of range"):
        config_io.resolve(None, ["data.sources.5.path=x"])


def test_config_describe_keeps_whole_docstrings():
    lines = config_io.describe(config_io.resolve(None))
    doc = config_io.field_docs(DataConfig)["mode"]
    assert "\n" in doc  # a docstring of several lines: `rlpjax config` must print all of it on the field's line
    line = next(item for item in lines if item.startswith("data.mode ="))
    assert line.split("  # ", 1)[1] == " ".join(doc.split()), line


def test_yaml_config_has_the_same_schema_and_checks(tmp_path):
    good = tmp_path / "run.yaml"
    good.write_text("model:\n  num_layers: 3\noptimizer:\n  learning_rate: 1e-6\ndata:\n  sources:\n"
                    "    - {name: web, path: web.jsonl}\nrun:\n  objective: ntp\n")
    cfg = config_io.resolve(str(good), ["run.steps=7"])
    assert (cfg.model.num_layers, cfg.optimizer.learning_rate, cfg.run.steps) == (3, 1e-6, 7)
    assert cfg.data.sources[0].path == "web.jsonl"
    assert config_io.resolve(str(good)).model.hidden_size == config_io.resolve(None).model.hidden_size
    (tmp_path / "typo.yaml").write_text("modle:\n  num_layers: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'modle'"):
        config_io.resolve(str(tmp_path / "typo.yaml"))
    (tmp_path / "range.yaml").write_text("model:\n  num_layers: 0\n")
    with pytest.raises(ConfigError, match="model.num_layers"):
        config_io.resolve(str(tmp_path / "range.yaml"))
    (tmp_path / "broken.yaml").write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        config_io.resolve(str(tmp_path / "broken.yaml"))


def test_a_gs_data_path_without_its_filesystem_library_names_the_package(monkeypatch):
    import importlib.util

    from rlpjax.data.shards import resolve_shards

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("gcsfs", "tensorflow") else real(name, *a))
    with pytest.raises(ConfigError, match="pip install gcsfs"):
        resolve_shards("gs://bucket/web/*.jsonl", "auto")


def test_a_run_directory_below_a_file_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        config_io.resolve(None, [f"run.run_dir={tmp_path / 'notes.txt' / 'run'}"])


def test_a_vocabulary_below_the_tokenizers_ids_is_one_line_before_the_run_starts(tmp_path, capsys):
    # The byte tokenizer has 261 ids (256 bytes + 5 specials); a 200-id model would read past its embedding table.
    # (RLP grows its vocabulary to hold <think> / </think>, ids 259 / 260, so there the same model is covered.)
    run_dir = tmp_path / "run"
    assert main(["train", "--config", "experiments/quickstart.py", "model.vocab_size=200",
                 f"run.run_dir={run_dir}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.vocab_size=200 is below the 261 ids" in err[0], err
    assert not run_dir.exists()  # refused before the run directory is made


def test_a_config_built_in_python_gets_the_same_checks():
    """The main job and scripts build a Config without `resolve`: `get_task` runs the same pass before any JAX."""
    from rlpjax.config import Config, ModelConfig, RLPConfig, RunConfig
    from rlpjax.train.task import get_task

    with pytest.raises(ConfigError, match="model.family='gpt2' is not one of llama, llama3, qwen2, qwen3"):
        get_task(Config(model=ModelConfig(family="gpt2")))
    with pytest.raises(ConfigError, match="rlp.position_strategy='surprise'"):
        get_task(Config(run=RunConfig(objective="rlp"), rlp=RLPConfig(position_strategy="surprise")))


def test_document_flags_are_optional_bools_and_old_run_configs_still_load(tmp_path):
    assert config_io.resolve(None, []).data.add_bos is None  # None: as the tokenizer says
    cfg = config_io.resolve(None, ["data.add_bos=auto", "data.add_eos=false"])
    assert cfg.data.add_bos is None and cfg.data.add_eos is False
    assert config_io.resolve(None, ["data.add_bos=true"]).data.add_bos is True
    with pytest.raises(ConfigError, match="data.add_bos"):
        config_io.resolve(None, ["data.add_bos=maybe"])
    # A run directory's config.json written when the flags were the strings "auto" / "true" / "false".
    old = config_io.to_dict(config_io.resolve(None, []))
    old["data"].update(add_bos="auto", add_eos="true")
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = config_io.load_json(tmp_path / "config.json")
    assert loaded.data.add_bos is None and loaded.data.add_eos is True


def test_a_changed_section_the_objective_ignores_is_noted(capsys):
    config_io.resolve(None, ["rlp.group_size=8", "grpo.num_rollouts=4"])  # objective ntp reads neither
    err = capsys.readouterr().err
    assert "run.objective=ntp ignores rlp.group_size" in err and "grpo.num_rollouts" in err
    config_io.resolve(None, [*SHORT_RLP, "data.mode=documents", "rlp.group_size=8"])
    assert "ignores" not in capsys.readouterr().err
