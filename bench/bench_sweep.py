"""Controller overhead per sweep trial (ask + suggest + heartbeat + tell) with 100 and 1,000 finished trials.

    poetry run python bench/bench_sweep.py [--samplers gp tpe random]

The preset's transformer space (16 parameters) in a journal file, as the offline agent uses it. Finished
trials are written with realistic values first; then 5 trials are asked, suggested, given a heartbeat and
told, and the median per trial is printed, with the sampler the agent uses (a bayes sweep past
lex_dpr.sweep.study.GP_MAX_TRIALS finished trials runs TPE). Target (sweep issue): under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    import optuna
    import yaml

    from lex_dpr.sweep.study import Sweep, make_sampler, tell
    from lex_dpr.sweep.trial import heartbeat
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.study import consumed_before
    from lex_dpr.sweep.parse import parse_sweep
    from lex_dpr.sweep.preset import TRANSFORMER_MODELS, build_preset
    from lex_dpr.sweep.space import suggest
    from lex_dpr.sweep.storage import open_storage

    parser = argparse.ArgumentParser()
    parser.add_argument("--samplers", nargs="+", default=["gp", "tpe", "random"])
    parser.add_argument("--finished", nargs="+", type=int, default=[100, 1000])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = parse_sweep(yaml.safe_load(build_preset(availability=dict.fromkeys(TRANSFORMER_MODELS)).text), "preset")
    rows = []
    for n in args.finished:
        folder = Path(tempfile.mkdtemp())
        storage = open_storage(str(folder / "journal.log"))
        study = optuna.create_study(study_name="bench", storage=storage, direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        t0 = time.perf_counter()
        for _ in range(n):  # finished trials, as earlier agents left them
            trial = study.ask()
            values = suggest(trial, spec.parameters)
            trial.set_user_attr("values", {k: str(v) for k, v in values.items()})
            study.tell(trial, 0.5 + 0.3 * (hash(str(values)) % 1000) / 1000)
        fill = time.perf_counter() - t0
        for name in args.samplers:
            method = "random" if name == "random" else "bayes"
            sampler = make_sampler(parse_sweep(dict(spec.raw, method=method), "bench"), name, n)
            loaded = optuna.load_study(study_name="bench", storage=open_storage(str(folder / "journal.log")),
                                       sampler=sampler)
            sweep = Sweep("bench", folder, spec, loaded, str(folder / "journal.log"))
            times = []
            for _ in range(5):
                start = time.perf_counter()
                trial = loaded.ask()
                consumed_before(loaded, trial.number)
                suggest(trial, spec.parameters)
                heartbeat(trial, AgentOptions())
                tell(sweep.study, trial, 0.7)
                times.append(time.perf_counter() - start)
            used = type(sampler).__name__.removesuffix("Sampler")
            rows.append((n, f"{name}→{used}" if used.lower() != name else name, statistics.median(times), max(times),
                         fill / n))
    print(f"{'finished':>8}  {'sampler':<7}  {'median s/trial':>14}  {'max':>6}  {'(write 1 finished trial)':>24}")
    for n, name, med, worst, per in rows:
        print(f"{n:>8}  {name:<7}  {med:>14.3f}  {worst:>6.3f}  {per:>22.4f} s")


if __name__ == "__main__":
    main()
