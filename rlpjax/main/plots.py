"""The main report's PNG plots: NTP losses of base / CPT / mid-training, the RL reward curves, pass@k by op."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rlpjax.eval.plotting import label_bars, legend_outside, readable_log_ticks  # noqa: E402

ARM_COLORS = {"base": "tab:gray", "rlp": "tab:red", "cpt": "tab:blue", "grpo": "tab:green", "mid": "tab:purple"}


def _save(figure, path: pathlib.Path) -> pathlib.Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def loss_curves(curves: dict[str, list[dict]], path: pathlib.Path) -> pathlib.Path:
    """NTP training loss of the base, then of each NTP continuation (CPT, mid-training) from the base's last step.

    RLP and GRPO have no next-token loss to draw; their curves are the rewards (`reward_curves`)."""
    figure, axis = plt.subplots(figsize=(7, 4))
    base = curves["base"]
    offset = base[-1]["step"] if base else 0
    for arm, metrics in curves.items():
        shift = 0 if arm == "base" else offset
        axis.plot([shift + m["step"] for m in metrics], [m["loss"] for m in metrics], color=ARM_COLORS.get(arm),
                  label=arm.upper() if arm != "base" else "base (NTP)")
    axis.set(xlabel="NTP step", ylabel="training loss (nats/token)", title="next-token loss", yscale="log")
    readable_log_ticks(axis)
    legend_outside(axis)
    return _save(figure, path)


def reward_curves(rlp: list[dict], grpo: list[dict], path: pathlib.Path) -> pathlib.Path:
    """Left: RLP's mean information-gain reward per step and the share of thoughts cut at the cap. Right: GRPO's
    mean reward and verified accuracy per step."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [m["step"] for m in rlp]
    left.plot(steps, [m["reward_mean"] for m in rlp], color=ARM_COLORS["rlp"], marker=".", label="mean reward")
    left.axhline(0.0, color="black", linewidth=0.5)
    left.set(xlabel="RLP step", ylabel="reward (nats)", title="RLP reward: S_pred - S_ema")
    cut = left.twinx()
    cut.plot(steps, [m["truncated_frac"] for m in rlp], color="tab:orange", alpha=0.6, label="cut at the cap")
    cut.set(ylabel="share of thoughts cut at the cap", ylim=(0, 1))
    handles, labels = left.get_legend_handles_labels()
    extra = cut.get_legend_handles_labels()
    left.legend(handles + extra[0], labels + extra[1], fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.18),
                ncol=2)
    steps = [m["step"] for m in grpo]
    right.plot(steps, [m["reward_mean"] for m in grpo], color=ARM_COLORS["grpo"], marker=".", label="mean reward")
    right.plot(steps, [m["verified_accuracy"] for m in grpo], color="black", linestyle="--",
               label="VerifiedCorrect share")
    right.set(xlabel="GRPO step", ylabel="reward / share", title="GRPO on the edge ops", ylim=(0, 1))
    legend_outside(right)
    return _save(figure, path)


def passk_by_op(reports: dict[str, dict], ks: list[int], path: pathlib.Path) -> pathlib.Path:
    """Grouped bars with their values: pass@k (unbiased) per op for each arm, one panel per k."""
    figure, axes = plt.subplots(len(ks), 1, figsize=(11, 3.6 * len(ks)), squeeze=False)
    arms = list(reports)
    ops = list(next(iter(reports.values()))["by_op"])
    width = 0.8 / len(arms)
    for axis, k in zip(axes[:, 0], ks):
        for i, arm in enumerate(arms):
            values = [100 * reports[arm]["by_op"][op]["unbiased"][k] for op in ops]
            bars = axis.bar([x + i * width for x in range(len(ops))], values, width=width, label=arm.upper(),
                            color=ARM_COLORS.get(arm))
            label_bars(axis, bars, fmt="{:.0f}")
        axis.set_xticks([x + width * (len(arms) - 1) / 2 for x in range(len(ops))], [str(op) for op in ops])
        axis.set(xlabel="op count", ylabel=f"pass@{k} (%)", title=f"pass@{k} by op (held-out)", ylim=(0, 110))
        legend_outside(axis)
    return _save(figure, path)
