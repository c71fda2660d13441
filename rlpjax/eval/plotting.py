"""Small matplotlib helpers every report plot uses, so the figures stay readable.

- `legend_outside(axis)`: the legend to the right of the axes, never over the data;
- `label_bars(axis, bars)`: each bar's value written above it, so a zero (invisible) bar still reads "0.0";
- `readable_log_ticks(axis, "y")`: a log axis with ticks at 1, 2, 5 x 10^k written as plain numbers (0.5, 2, 10)
  instead of sparse powers of ten (use it for loss curves on a log scale).
"""

from __future__ import annotations


def legend_outside(axis, **kwargs) -> None:
    """Place the axis' legend outside, to the right of the plotting area (call `tight_layout` afterwards)."""
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, **kwargs)


def label_bars(axis, bars, fmt: str = "{:.1f}") -> None:
    """Write every bar's height above it (zero bars included) and leave headroom for the labels."""
    axis.bar_label(bars, labels=[fmt.format(bar.get_height()) for bar in bars], padding=2, fontsize=7)
    low, high = axis.get_ylim()
    axis.set_ylim(low, high * 1.08 if high > 0 else 1.0)


def readable_log_ticks(axis, which: str = "y") -> None:
    """Ticks at 1, 2 and 5 times each power of ten on a log axis, labelled as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = axis.yaxis if which == "y" else axis.xaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())
