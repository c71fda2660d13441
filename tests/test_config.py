"""Config schema, dotted overrides, JSON round trip and error messages."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import pytest

from rlpjax import config_io
from rlpjax.config import Config, SourceConfig

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_overrides_parse_by_field_type():
    cfg = config_io.apply_overrides(Config(), [
        "model.num_layers=4", "rlp.sampling.temperature=0.5", "model.tie_embeddings=false", "run.name=abc",
        "data.sources.0.weight=0.25", "rlp.pg.normalize_adv_std=True"])
    assert cfg.model.num_layers == 4 and isinstance(cfg.model.num_layers, int)
    assert cfg.rlp.sampling.temperature == 0.5
    assert cfg.model.tie_embeddings is False
    assert cfg.run.name == "abc"
    assert cfg.data.sources[0].weight == 0.25
    assert cfg.rlp.pg.normalize_adv_std is True
    assert Config().model.num_layers != 4  # the original is untouched (frozen)


def test_unknown_key_names_key_and_closest_valid_keys():
    with pytest.raises(config_io.ConfigError) as err:
        config_io.apply_overrides(Config(), ["model.num_layer=4"])
    message = str(err.value)
    assert "'model.num_layer'" in message and "model.num_layers" in message
    with pytest.raises(config_io.ConfigError, match="rlp.group_size"):
        config_io.apply_overrides(Config(), ["rlp.groupsize=4"])


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(config_io.ConfigError, match=r"'model.num_layers' expects int, got 'four'"):
        config_io.apply_overrides(Config(), ["model.num_layers=four"])
    with pytest.raises(config_io.ConfigError, match="expects a bool"):
        config_io.apply_overrides(Config(), ["model.tie_embeddings=maybe"])
    with pytest.raises(config_io.ConfigError, match="not of the form"):
        config_io.apply_overrides(Config(), ["model.num_layers"])
    with pytest.raises(config_io.ConfigError, match="section"):
        config_io.apply_overrides(Config(), ["model=3"])
    with pytest.raises(config_io.ConfigError, match="out of range"):
        config_io.apply_overrides(Config(), ["data.sources.3.weight=1"])


def test_json_round_trip(tmp_path):
    cfg = config_io.apply_overrides(Config(), ["model.num_layers=3", "run.steps=7"])
    cfg = cfg.replace(data=dataclasses.replace(cfg.data, sources=(SourceConfig(name="a", weight=2.0),
                                                                   SourceConfig(name="b", path="x/*.jsonl"))))
    path = tmp_path / "config.json"
    config_io.save_json(cfg, path)
    assert config_io.load_json(path) == cfg


def test_json_with_bad_field_or_type_is_rejected(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model": {"num_layerz": 3}}')
    with pytest.raises(config_io.ConfigError, match="model.num_layers"):
        config_io.load_json(path)
    path.write_text('{"model": {"num_layers": "3"}}')
    with pytest.raises(config_io.ConfigError, match="expects int"):
        config_io.load_json(path)


def test_sub_sections_keep_their_objective_defaults(tmp_path):
    """rlp.pg defaults to the paper's choices, grpo.pg to GRPO's; a file naming one field of a sub-section keeps
    the section's own defaults for the others (not PolicyGradientConfig()'s)."""
    assert (Config().rlp.pg.advantage, Config().rlp.pg.aggregation, Config().rlp.pg.kl_beta) == (
        "leave_one_out", "seq_mean", 0.0)
    assert (Config().grpo.pg.advantage, Config().grpo.pg.aggregation, Config().grpo.pg.kl_beta) == (
        "group_mean", "token_mean", 1e-3)
    assert (Config().rlp.sampling.temperature, Config().grpo.sampling.temperature) == (0.7, 1.0)
    path = tmp_path / "partial.yaml"
    path.write_text("rlp:\n  pg:\n    eps_high: 0.28\n")
    cfg = config_io.load_yaml(path)
    assert cfg.rlp.pg == dataclasses.replace(Config().rlp.pg, eps_high=0.28)


def test_moved_keys_load_from_old_run_configs_and_are_refused_as_overrides(tmp_path):
    """A run config written before the sampling / policy-gradient fields moved into rlp.sampling, rlp.pg (and
    grpo's) still loads, each value at its new place (so old runs resume); an override with an old key names
    the new one."""
    old = config_io.to_dict(Config())
    for section in ("rlp", "grpo"):
        for sub in ("sampling", "pg"):
            old[section].update(old[section].pop(sub))
    old["rlp"].update(eps_high=0.28, temperature=0.9)
    old["grpo"].update(kl_beta=0.0, minibatches=2)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    cfg = config_io.load_json(path)
    assert (cfg.rlp.pg.eps_high, cfg.rlp.sampling.temperature, cfg.grpo.pg.kl_beta, cfg.grpo.pg.minibatches) == (
        0.28, 0.9, 0.0, 2)
    assert cfg.rlp.pg.advantage == "leave_one_out"  # untouched fields keep the RLP defaults
    with pytest.raises(config_io.ConfigError, match=r"'rlp.eps_high' moved to 'rlp.pg.eps_high'"):
        config_io.apply_overrides(Config(), ["rlp.eps_high=0.3"])


def test_every_field_has_a_docstring():
    def walk(cls):
        docs = config_io.field_docs(cls)
        for f in dataclasses.fields(cls):
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring"
            tp = config_io._type_hints(cls)[f.name]
            if dataclasses.is_dataclass(tp):
                walk(tp)
    walk(Config)
    walk(SourceConfig)


def test_every_preset_resolves():
    presets = sorted((REPO / "experiments").rglob("*.py"))
    for path in presets:
        if path.name.startswith("_") or "sweeps" in path.parts:
            continue
        assert isinstance(config_io.load_preset(path), Config), path


def test_cli_reports_bad_key_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "rlpjax.cli", "config", "model.hiden_size=3"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "model.hidden_size" in proc.stderr
