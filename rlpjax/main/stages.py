"""The stages of the main job, run in order over one run directory, each recorded in main_state.json when done.

    corpus -> tokenizer -> base (NTP) -> rlp (RLP from base) -> cpt (NTP from base, FLOP-matched to rlp)
           -> eval (base, cpt, rlp: pass@k on held-out problems) -> probe (thoughts of base and rlp) -> report

Resume: a rerun with the same settings skips the stages main_state.json marks done (their recorded wall time is
kept) and continues an interrupted training stage from its newest checkpoint (`train` resumes by itself). A rerun
with other settings is refused unless `--fresh` (which deletes the run directory first; see `prepare_run_dir`).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import time
from typing import Callable

from tqdm.auto import tqdm

from rlpjax.config_io import ConfigError
from rlpjax.main import configs
from rlpjax.main.settings import MainSettings, to_json_dict

STATE_FILE = "main_state.json"
ARMS = ("base", "cpt", "rlp")


@dataclasses.dataclass
class Job:
    """The run directory, the settings, and what finished stages recorded (`state["stages"][name]`)."""

    root: pathlib.Path
    settings: MainSettings
    progress: bool
    state: dict

    @property
    def corpus(self) -> pathlib.Path:
        return self.root / "corpus"

    @property
    def tokenizer(self) -> pathlib.Path:
        return self.root / "tokenizer"

    def arm_dir(self, arm: str) -> pathlib.Path:
        return self.root / arm

    def eval_dir(self, arm: str) -> pathlib.Path:
        return self.root / "eval" / arm

    def stage(self, name: str) -> dict:
        """What stage `name` recorded (empty if it has not finished)."""
        return self.state["stages"].get(name, {})

    def save(self) -> None:
        (self.root / STATE_FILE).write_text(json.dumps(self.state, indent=1) + "\n")

    def model(self):
        return configs.model_config(self.settings, self.stage("tokenizer")["vocab_size"])

    def config(self, arm: str, cpt_steps: int | None = None):
        s, model, args = self.settings, self.model(), (self.corpus, self.tokenizer / "tokenizer.json")
        if arm == "base":
            return configs.base_config(s, model, *args, self.arm_dir("base"), self.progress)
        if arm == "rlp":
            return configs.rlp_config(s, model, *args, self.arm_dir("rlp"), self.arm_dir("base"), self.progress)
        return configs.cpt_config(s, model, *args, self.arm_dir("cpt"), self.arm_dir("base"),
                                  cpt_steps if cpt_steps is not None else self.stage("cpt")["steps"], self.progress)


def prepare_run_dir(root: pathlib.Path, settings: MainSettings, fresh: bool, progress: bool) -> Job:
    """A Job over `root`: new, resumed (same settings), or wiped and new (`fresh`, only a main-job directory)."""
    state_path = root / STATE_FILE
    if fresh and root.exists():
        if not state_path.is_file() and any(root.iterdir()):
            raise ConfigError(f"--fresh would delete {str(root)!r}, which is not a main-job run directory (no "
                              f"{STATE_FILE}); pass another --out")
        shutil.rmtree(root)
    wanted = to_json_dict(settings)
    if state_path.is_file():
        state = json.loads(state_path.read_text())
        if state.get("settings") != wanted:
            changed = sorted(k for k in wanted if state.get("settings", {}).get(k) != wanted[k])
            raise ConfigError(f"{str(root)!r} holds a main job with other settings ({', '.join(changed)}); rerun "
                              "with --fresh to start over there, or pass another --out")
        print(f"[main] resuming {root}: done stages {', '.join(state['stages']) or 'none'} are kept")
    else:
        if root.exists() and any(root.iterdir()):
            raise ConfigError(f"{str(root)!r} exists and is not a main-job run directory; pass another --out")
        state = {"settings": wanted, "stages": {}}
    root.mkdir(parents=True, exist_ok=True)
    job = Job(root, settings, progress, state)
    job.save()
    return job


# --- the stages: each returns what the report needs (JSON values), recorded with its wall time

def stage_corpus(job: Job) -> dict:
    from rlpjax.reasoning.corpora import grid_quotas
    from rlpjax.reasoning.corpus_writer import write_corpus

    s = job.settings
    quotas = grid_quotas(s.train_ops, s.templates, s.modes, s.per_op)
    manifest = write_corpus(job.corpus, quotas, {"train": 1.0}, s.seed, progress=job.progress)
    return {"problems": manifest["splits"]["train"]["records"]}


def stage_tokenizer(job: Job) -> dict:
    from rlpjax.data.tokenizer import load_tokenizer
    from rlpjax.data.tokenizer_cli import DEFAULT_SPECIALS, iter_texts, train_bpe
    from rlpjax.reasoning.format import SPECIAL_TOKENS

    specials = list(dict.fromkeys([*DEFAULT_SPECIALS, *SPECIAL_TOKENS]))
    texts = tqdm(iter_texts(str(job.corpus / "*.jsonl"), "text"), total=job.stage("corpus")["problems"],
                 desc="tokenizer", unit="doc", disable=not job.progress)
    tokenizer = train_bpe(texts, vocab_size=job.settings.vocab_size, special_tokens=specials, split_digits=True)
    job.tokenizer.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(job.tokenizer / "tokenizer.json"))
    config = {"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
              "add_eos_token": True}  # the same settings `rlpjax tokenizer train` writes
    (job.tokenizer / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    loaded = load_tokenizer(str(job.tokenizer))
    if loaded.token_to_id("<think>") is None or loaded.eos_id is None:
        raise ConfigError("the trained tokenizer lacks <think> or an EOS token")
    return {"vocab_size": loaded.vocab_size}


def _train(cfg) -> dict:
    from rlpjax.train.loop import train
    from rlpjax.train.metrics import read_metrics

    result = train(cfg)
    if result.preempted:
        raise KeyboardInterrupt(result.message)
    metrics = read_metrics(result.run_dir)
    return {"steps": result.last_step, "final_loss": metrics[-1].get("loss") if metrics else None}


def stage_base(job: Job) -> dict:
    return _train(job.config("base"))


def stage_rlp(job: Job) -> dict:
    from rlpjax.train.metrics import read_metrics

    out = _train(job.config("rlp"))
    metrics = read_metrics(job.arm_dir("rlp"))
    out["reward_mean"] = sum(m["reward_mean"] for m in metrics) / len(metrics)
    return out


def stage_cpt(job: Job) -> dict:
    from rlpjax.train.metrics import read_metrics

    matched = configs.match_cpt(job.config("base"), job.config("rlp"), read_metrics(job.arm_dir("rlp")))
    print(f"[main] CPT arm: {matched.cpt_steps} NTP steps = {matched.cpt_flops:.3g} FLOPs, matching RLP's "
          f"{matched.rlp_flops:.3g} FLOPs at a {matched.thought_len_source} thought length of "
          f"{matched.thought_len:.1f} tokens")
    out = _train(job.config("cpt", cpt_steps=matched.cpt_steps))
    return {**out, "compute": dataclasses.asdict(matched)}


def stage_eval(job: Job) -> dict:
    from rlpjax.main.evaluate import evaluate_arm
    from rlpjax.reasoning.corpora import corpus_ids

    exclude = corpus_ids(job.corpus)
    out = {}
    for arm in ARMS:
        print(f"[main] evaluating {arm}")
        started = time.perf_counter()
        out[arm] = evaluate_arm(arm, job.arm_dir(arm), job.eval_dir(arm), job.settings, exclude, job.progress)
        out[arm]["seconds"] = time.perf_counter() - started
    return out


def stage_probe(job: Job) -> dict:
    from rlpjax.eval.loading import load_for_eval
    from rlpjax.main.evaluate import heldout_problems
    from rlpjax.main.thoughts import probe, summarize
    from rlpjax.reasoning.corpora import corpus_ids
    from rlpjax.reasoning.format import document_text

    s = job.settings
    problems = heldout_problems(s, corpus_ids(job.corpus))
    step = max(1, len(problems) // s.probe_docs)  # spread the probed documents over the ops
    documents = [document_text(p) for p in problems[::step][:s.probe_docs]]
    out = {}
    for arm in ("base", "rlp"):
        probed = probe(load_for_eval(job.arm_dir(arm)), documents, seq_len=s.seq_len, group=s.rlp_group,
                       thought_cap=s.rlp_thought_tokens, temperature=s.rlp_temperature, seed=s.seed,
                       progress=job.progress, desc=f"probe {arm}")
        path = job.root / "eval" / f"thoughts_{arm}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(dataclasses.asdict(p)) + "\n" for p in probed))
        out[arm] = summarize(probed)
    return out


def stage_report(job: Job) -> dict:
    from rlpjax.main.report import write_main_report

    return {"report": str(write_main_report(job))}


STAGES: tuple[tuple[str, str, Callable[[Job], dict]], ...] = (
    ("corpus", "generate the synthetic corpus", stage_corpus),
    ("tokenizer", "train the BPE tokenizer", stage_tokenizer),
    ("base", "pretrain the base model (NTP)", stage_base),
    ("rlp", "RLP arm from the base", stage_rlp),
    ("cpt", "CPT arm from the base at the RLP arm's FLOPs", stage_cpt),
    ("eval", "pass@k of base, CPT and RLP on held-out problems", stage_eval),
    ("probe", "probe the thoughts of base and RLP", stage_probe),
    ("report", "write the report", stage_report),
)


def run_stages(job: Job) -> None:
    """Run every stage not yet done, in order, recording each one's result and wall time."""
    for index, (name, title, fn) in enumerate(STAGES, start=1):
        if name in job.state["stages"] and name != "report":
            print(f"[main] stage {index}/{len(STAGES)} {name}: done earlier, kept")
            continue
        print(f"[main] stage {index}/{len(STAGES)} {name}: {title}")
        started = time.perf_counter()
        result = fn(job)
        job.state["stages"][name] = {**result, "seconds": time.perf_counter() - started}
        job.save()
