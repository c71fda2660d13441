"""A two-point CPU sweep (two learning rates, 3 steps each) on the quickstart preset; used by the tests.

    launch/sweep.py experiments/sweeps/quickstart_lr.py
"""

BASE = "experiments/quickstart.py"
COMMON = ["run.steps=3", "run.progress=false", "run.peak_tflops=1.0", "checkpoint.every_steps=0",
          "checkpoint.async_save=false", "data.seq_len=32", "data.prefetch_batches=0"]
POINTS = {
    "lr3e-3": ["optimizer.learning_rate=3e-3"],
    "lr1e-3": ["optimizer.learning_rate=1e-3"],
}
