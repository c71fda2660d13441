"""The main job (`rlpjax main`): corpus, tokenizer, NTP base, RLP and FLOP-matched CPT arms, pass@k, report.

settings.py (scales and knobs), configs.py (the three runs and their FLOPs), stages.py (the ordered, resumable
stages), evaluate.py (pass@k and held-out loss of one arm), thoughts.py (the thought probe), plots.py, reading.py
and report.py (report.md). The command itself is `rlpjax/main_job.py`.
"""
