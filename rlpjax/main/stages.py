"""The stages of the main job, run in order over one run directory, each recorded in main_state.json when done.

    corpus -> tokenizer -> base (NTP) -> rlp -> cpt (FLOPs of rlp) -> grpo -> mid (FLOPs of grpo)
           -> eval (every arm: pass@k on held-out problems) -> probe (thoughts of base and rlp) -> report

Every stage shows a progress bar (corpus and tokenizer by document, training by step, evaluation by problem).
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
from rlpjax.main.settings import ARMS, MainSettings, to_json_dict

STATE_FILE = "main_state.json"
GRPO_PROMPT_SAMPLE = 256
"""Edge-op problems whose prompt and gold completion lengths size the GRPO rows."""


@dataclasses.dataclass
class Job:
    """The run directory, the settings, and what finished stages recorded (`state["stages"][name]`)."""

    root: pathlib.Path
    settings: MainSettings
    progress: bool
    state: dict

    @property
    def raw_corpus(self) -> pathlib.Path:
        """Generated problems (one record per problem, gold graph included): pretrain-* and continue-* shards at the
        train ops, and edge/edge-continue-* at the edge ops."""
        return self.root / "corpus" / "problems"

    @property
    def raw_mid_corpus(self) -> pathlib.Path:
        return self.root / "corpus" / "mid_problems"

    @property
    def documents(self) -> pathlib.Path:
        """The same problems as training documents, each in its render (`reasoning.thinking`)."""
        return self.root / "corpus" / "documents"

    @property
    def continuation_glob(self) -> str:
        """The continuation documents: continue-* (train ops) and edge-continue-* (edge ops)."""
        return str(self.documents / "*continue-*.jsonl")

    @property
    def mid_documents(self) -> pathlib.Path:
        return self.root / "corpus" / "mid_documents"

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

    def config(self, arm: str, steps: int | None = None):
        """The Config of a training arm; `steps` sizes the matched NTP arms (default: what their stage recorded)."""
        s, model, tok = self.settings, self.model(), self.tokenizer / "tokenizer.json"
        if arm == "base":
            return configs.base_config(s, model, str(self.documents / "pretrain-*.jsonl"), tok, self.arm_dir(arm),
                                       self.progress)
        if arm == "rlp":
            return configs.rlp_config(s, model, self.continuation_glob, tok, self.arm_dir(arm),
                                      self.arm_dir("base"), self.progress)
        if arm == "grpo":
            rows = self.stage("tokenizer")["grpo_rows"]
            return configs.grpo_config(s, model, tok, self.arm_dir(arm), self.arm_dir("base"),
                                       rows["max_prompt_tokens"], rows["max_new_tokens"], self.progress)
        corpus = self.continuation_glob if arm == "cpt" else str(self.mid_documents / "*.jsonl")
        steps = steps if steps is not None else self.stage(arm)["steps"]
        return configs.ntp_arm_config(arm, s, model, corpus, tok, self.arm_dir(arm), self.arm_dir("base"),
                                      steps, self.progress)


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

def mid_quotas(s: MainSettings) -> dict:
    """Problems per cell of the mid-training corpus: `mid_edge_share` of them on the edge ops, the rest on the
    train ops, `mid_per_op` per op on average, templates x modes round-robin within each group."""
    from rlpjax.reasoning.corpora import grid_quotas

    total = s.mid_per_op * (len(s.train_ops) + len(s.edge_ops))
    edge_per_op = round(total * s.mid_edge_share / len(s.edge_ops))
    train_per_op = round(total * (1 - s.mid_edge_share) / len(s.train_ops))
    return {**grid_quotas(s.train_ops, s.templates, s.modes, train_per_op),
            **grid_quotas(s.edge_ops, s.templates, s.modes, edge_per_op)}


def grpo_rows(s: MainSettings, tokenizer) -> dict:
    """GRPO row widths from edge-op problems: the longest prompt (+ BOS) and 1.25x the longest gold completion,
    each rounded up to a multiple of 16 (a response cut at the cap earns no reward)."""
    from rlpjax.reasoning.corpora import build_eval_set
    from rlpjax.reasoning.format import completion_text, prompt_text

    problems = build_eval_set(s.edge_ops, s.templates, s.modes, GRPO_PROMPT_SAMPLE, s.seed + 11)
    prompt = max(len(tokenizer.encode(prompt_text(p))) for p in problems) + 1
    completion = max(len(tokenizer.encode(completion_text(p))) for p in problems) + 1
    round16 = lambda n: -(-n // 16) * 16  # noqa: E731
    return {"max_prompt_tokens": round16(prompt), "max_new_tokens": round16(int(1.25 * completion))}


def stage_corpus(job: Job) -> dict:
    from rlpjax.reasoning.corpora import grid_quotas
    from rlpjax.reasoning.corpus_writer import write_corpus
    from rlpjax.reasoning.thinking import rewrite_corpus

    s = job.settings
    share = s.per_op / (s.per_op + s.continue_per_op)
    train_cells = grid_quotas(s.train_ops, s.templates, s.modes, s.per_op + s.continue_per_op)
    manifest = write_corpus(job.raw_corpus, train_cells, {"pretrain": share, "continue": 1 - share}, s.seed,
                            progress=job.progress)
    edge = write_corpus(job.raw_corpus / "edge", grid_quotas(s.edge_ops, s.templates, s.modes, s.continue_per_op),
                        {"edge-continue": 1.0}, s.seed + 5, progress=job.progress)
    mid_manifest = write_corpus(job.raw_mid_corpus, mid_quotas(s), {"mid": 1.0}, s.seed + 7, progress=job.progress)
    shares = {"solution": 1 - s.think_share - s.direct_share, "think": s.think_share, "direct": s.direct_share}
    renders = rewrite_corpus(job.raw_corpus, job.documents, shares, s.seed, pattern="pretrain-*.jsonl")
    mid_renders = rewrite_corpus(job.raw_mid_corpus, job.mid_documents, shares, s.seed)
    direct = {"direct": 1.0}  # see MainSettings.continue_per_op
    continuation = [rewrite_corpus(job.raw_corpus, job.documents, direct, s.seed, pattern="continue-*.jsonl"),
                    rewrite_corpus(job.raw_corpus / "edge", job.documents, direct, s.seed)]
    problems = {split: info["records"] for split, info in manifest["splits"].items()}
    problems["continue"] += edge["splits"]["edge-continue"]["records"]
    return {"problems": problems | {"mid": mid_manifest["splits"]["mid"]["records"]},
            "renders": renders, "mid_renders": mid_renders,
            "continuation_renders": {kind: sum(c[kind] for c in continuation) for kind in renders}}


def stage_tokenizer(job: Job) -> dict:
    from rlpjax.data.tokenizer import load_tokenizer
    from rlpjax.data.tokenizer_cli import DEFAULT_SPECIALS, iter_texts, train_bpe
    from rlpjax.reasoning.format import SPECIAL_TOKENS

    specials = list(dict.fromkeys([*DEFAULT_SPECIALS, *SPECIAL_TOKENS]))
    total = sum(job.stage("corpus")["problems"].values())
    texts = (text for directory in (job.documents, job.mid_documents)
             for text in iter_texts(str(directory / "*.jsonl"), "text"))
    texts = tqdm(texts, total=total, desc="tokenizer", unit="doc", disable=not job.progress)
    tokenizer = train_bpe(texts, vocab_size=job.settings.vocab_size, special_tokens=specials, split_digits=True)
    job.tokenizer.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(job.tokenizer / "tokenizer.json"))
    config = {"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
              "add_eos_token": True}  # the same settings `rlpjax tokenizer train` writes
    (job.tokenizer / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    loaded = load_tokenizer(str(job.tokenizer))
    if loaded.token_to_id("<think>") is None or loaded.eos_id is None:
        raise ConfigError("the trained tokenizer lacks <think> or an EOS token")
    return {"vocab_size": loaded.vocab_size, "grpo_rows": grpo_rows(job.settings, loaded)}


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


def _mean(metrics: list[dict], key: str) -> float:
    values = [m[key] for m in metrics if key in m]
    return sum(values) / len(values) if values else float("nan")


def stage_rlp(job: Job) -> dict:
    from rlpjax.train.metrics import read_metrics

    out = _train(job.config("rlp"))
    metrics = read_metrics(job.arm_dir("rlp"))
    return {**out, "reward_mean": _mean(metrics, "reward_mean"), "truncated_frac": _mean(metrics, "truncated_frac")}


def stage_cpt(job: Job) -> dict:
    from rlpjax.train.metrics import read_metrics

    matched = configs.match_cpt(job.config("base"), job.config("rlp"), read_metrics(job.arm_dir("rlp")))
    print(f"[main] CPT arm: {matched.cpt_steps} NTP steps = {matched.cpt_flops:.3g} FLOPs, matching RLP's "
          f"{matched.rlp_flops:.3g} FLOPs at a {matched.thought_len_source} thought length of "
          f"{matched.thought_len:.1f} tokens")
    out = _train(job.config("cpt", steps=matched.cpt_steps))
    return {**out, "compute": dataclasses.asdict(matched)}


def stage_grpo(job: Job) -> dict:
    from rlpjax.train.metrics import read_metrics
    from rlpjax.train.tasks.grpo import GRPOTask

    cfg = job.config("grpo")
    out = _train(cfg)
    metrics = read_metrics(job.arm_dir("grpo"))
    flops_per_step, _tokens = GRPOTask(cfg).flops_and_tokens_per_step()
    return {**out, "flops_per_step": flops_per_step, "reward_mean": _mean(metrics, "reward_mean"),
            "verified_accuracy": _mean(metrics, "verified_accuracy")}


def stage_mid(job: Job) -> dict:
    grpo = job.stage("grpo")
    matched = configs.match_mid(job.config("mid", steps=1), grpo["flops_per_step"], grpo["steps"])
    print(f"[main] mid-training arm: {matched.mid_steps} NTP steps = {matched.mid_flops:.3g} FLOPs, planned for "
          f"the GRPO arm's {matched.grpo_flops:.3g} FLOPs")
    out = _train(job.config("mid", steps=matched.mid_steps))
    return {**out, "compute": dataclasses.asdict(matched)}


def training_ids(job: Job) -> set[str]:
    """The keys of every problem a corpus of this job holds (held-out problems exclude them)."""
    from rlpjax.reasoning.corpora import corpus_ids

    return corpus_ids(job.raw_corpus) | corpus_ids(job.raw_corpus / "edge") | corpus_ids(job.raw_mid_corpus)


def stage_eval(job: Job) -> dict:
    from rlpjax.main.evaluate import evaluate_arm

    exclude = training_ids(job)
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
    from rlpjax.reasoning.thinking import render

    s = job.settings
    problems = heldout_problems(s, training_ids(job))
    chosen = [p for op in s.eval_ops for p in [q for q in problems if q["op"] == op][:s.probe_docs]]
    documents, ops = [render(p, "direct") for p in chosen], [p["op"] for p in chosen]
    out = {}
    for arm in ("base", "rlp"):
        probed = probe(load_for_eval(job.arm_dir(arm)), documents, ops, group=s.rlp_group,
                       thought_cap=s.rlp_thought_tokens, temperature=s.rlp_temperature, horizon=s.rlp_horizon,
                       seed=s.seed, progress=job.progress, desc=f"probe {arm}")
        path = job.root / "eval" / f"thoughts_{arm}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(dataclasses.asdict(p)) + "\n" for p in probed))
        out[arm] = summarize(probed)
    return out


def stage_report(job: Job) -> dict:
    from rlpjax.main.report import write_main_report

    return {"report": str(write_main_report(job))}


STAGES: tuple[tuple[str, str, Callable[[Job], dict]], ...] = (
    ("corpus", "generate the pre-training, continuation and mid-training corpora", stage_corpus),
    ("tokenizer", "train the BPE tokenizer", stage_tokenizer),
    ("base", "pretrain the base model (NTP)", stage_base),
    ("rlp", "RLP arm from the base", stage_rlp),
    ("cpt", "CPT arm from the base at the RLP arm's FLOPs", stage_cpt),
    ("grpo", "GRPO arm from the base on the edge ops (process-verified reward)", stage_grpo),
    ("mid", "mid-training arm from the base at the GRPO arm's FLOPs", stage_mid),
    ("eval", "pass@k of every arm on held-out problems", stage_eval),
    ("probe", "probe the thoughts of base and RLP", stage_probe),
    ("report", "write the report and summary.json", stage_report),
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
