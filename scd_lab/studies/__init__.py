"""Research on top of the kit: the objective study and its probe, sweeps, the challenge, the
cost bench, the demo, the notebooks' exercise checks. Everything here calls the library, the
trainer and the runs; nothing below imports it."""
