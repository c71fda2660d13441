"""The main report's PNG plots: NTP loss of base and CPT, the RLP reward curve, pass@k by op of the three arms."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ARM_COLORS = {"base": "tab:gray", "cpt": "tab:blue", "rlp": "tab:red"}


def _save(figure, path: pathlib.Path) -> pathlib.Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def loss_curves(base: list[dict], cpt: list[dict], path: pathlib.Path) -> pathlib.Path:
    """NTP training loss of the base, then of CPT continuing it on the same step axis.

    RLP has no next-token loss to draw (its clipped surrogate is ~0 by construction with one PPO epoch); its curve
    is the reward (`reward_curve`)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    offset = base[-1]["step"] if base else 0
    axis.plot([m["step"] for m in base], [m["loss"] for m in base], color=ARM_COLORS["base"], label="base (NTP)")
    axis.plot([offset + m["step"] for m in cpt], [m["loss"] for m in cpt], color=ARM_COLORS["cpt"],
              label="CPT (NTP, from the base)")
    axis.set(xlabel="NTP step", ylabel="training loss (nats/token)", title="next-token loss", yscale="log")
    axis.legend()
    return _save(figure, path)


def reward_curve(rlp: list[dict], path: pathlib.Path) -> pathlib.Path:
    """RLP's mean information-gain reward per step (with the best-of-group gain) and the mean thought length."""
    figure, axis = plt.subplots(figsize=(6, 4))
    steps = [m["step"] for m in rlp]
    axis.plot(steps, [m["reward_mean"] for m in rlp], color=ARM_COLORS["rlp"], marker=".", label="mean reward")
    axis.plot(steps, [m["best_of_group_gain"] for m in rlp], color="tab:orange", linestyle="--",
              label="best-of-group minus group mean")
    axis.axhline(0.0, color="black", linewidth=0.5)
    axis.set(xlabel="RLP step", ylabel="reward (nats)", title="RLP reward: S_pred - S_ema")
    lengths = axis.twinx()
    lengths.plot(steps, [m["length_mean"] for m in rlp], color="tab:green", alpha=0.5, label="thought length")
    lengths.set_ylabel("mean thought length (tokens)")
    handles = axis.get_legend_handles_labels()
    extra = lengths.get_legend_handles_labels()
    axis.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8)
    return _save(figure, path)


def passk_by_op(reports: dict[str, dict], ks: list[int], path: pathlib.Path) -> pathlib.Path:
    """Grouped bars: pass@k (unbiased) per op for each arm, one panel per k."""
    figure, axes = plt.subplots(1, len(ks), figsize=(5 * len(ks), 4), squeeze=False)
    arms = list(reports)
    ops = list(next(iter(reports.values()))["by_op"])
    width = 0.8 / len(arms)
    for axis, k in zip(axes[0], ks):
        for i, arm in enumerate(arms):
            values = [100 * reports[arm]["by_op"][op]["unbiased"][k] for op in ops]
            axis.bar([x + i * width for x in range(len(ops))], values, width=width, label=arm.upper(),
                     color=ARM_COLORS.get(arm))
        axis.set_xticks([x + width * (len(arms) - 1) / 2 for x in range(len(ops))], [str(op) for op in ops])
        axis.set(xlabel="op count", ylabel=f"pass@{k} (%)", title=f"pass@{k} by op (held-out)", ylim=(0, 100))
        axis.legend()
    return _save(figure, path)
