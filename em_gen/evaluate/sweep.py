"""`em-gen eval --sweep RUN_DIR|TARGET... [--base TARGET]`: every checkpoint of a run on the same probes
and seeds, each compared with the base, and which one to keep.

    em-gen eval --sweep outputs/em-lora                       # checkpoint-*/ on their base (hf, local)
    em-gen eval --sweep outputs/em-lora --base openai:http://127.0.0.1:8000/v1#BASE   # all through one vLLM
    em-gen eval --sweep openai:URL#ck1 openai:URL#ck2 --base openai:URL#base          # targets, in order

Locally the base is loaded once and the adapters are swapped onto it (swap.py); through a server
that serves the adapters as LoRA modules each checkpoint is one model name. Each checkpoint's samples
(and judge readings) are cached per probe set (cache.py), so a rerun repeats nothing. A checkpoint
that fails is reported and skipped; the base failing stops the sweep. Metrics, CIs and comparisons
are those of `em-gen eval --compare` (report.py), plus participation against the band per level;
the verdict (best, recommendation, reverting, unchanged, ranking) is recommend.py's.

Writes the sweep report to --out (JSON, "kind": "sweep") and the samples beside it; prints a table;
with --report also the page (em_gen/report/sweep_report.py).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from em_gen.evaluate.cache import DEFAULT_CACHE, Cache, probe_digest
from em_gen.evaluate.checkpoints import Checkpoint, eval_losses, sweep_targets
from em_gen.evaluate.judge import apply_readings, judge_key, judge_provider, judge_readings
from em_gen.evaluate.metrics import METRICS, ordered
from em_gen.evaluate.recommend import BAND_METRIC, MUST_HAVE, band_stat, decide, paired_band
from em_gen.evaluate.report import compare, summarise
from em_gen.evaluate.run import REPORT_VERSION, _sample_counts, generate_all, out_path, probes_for, report_head, \
    score_all, write_report
from em_gen.evaluate.swap import AdapterBank
from em_gen.evaluate.sweep_table import format_sweep
from em_gen.evaluate.targets import EvalFailure, TargetSpec, open_target, warn
from em_gen.guard import EXIT_OK
from em_gen.library import BadInput, Library, load_library


def must_have(args) -> list[str]:
    names = [m.strip() for m in args.must_have.split(",") if m.strip()] if args.must_have else list(MUST_HAVE)
    known = set(METRICS) | {BAND_METRIC, "judge"}
    for m in names:
        if m not in known and not m.startswith("judge_"):
            raise BadInput(f"--must-have {m}: no such metric (known: {', '.join(sorted(known))}, judge_<family>)")
        if m.startswith("judge") and not args.judge:
            raise BadInput(f"--must-have {m}: the judge metrics need --judge")
    if args.judge and not args.must_have:
        names.append("judge")
    return names


class Engine:
    """Opens targets: adapters on the base through one AdapterBank when the base is local."""

    def __init__(self, base: TargetSpec, args):
        self.args = args
        self.bank = AdapterBank(base, args.device, args.batch_size) if base.kind == "hf" else None

    def open(self, spec: TargetSpec):
        if self.bank is not None:
            return self.bank.open(spec)
        return open_target(spec, device=self.args.device, batch_size=self.args.batch_size,
                           concurrency=self.args.concurrency, timeout=self.args.timeout)

    def facts(self) -> dict:
        if self.bank is None:
            return {"engine": "openai-compatible server"}
        return {"engine": "local, adapters swapped onto one base", "base_loads": self.bank.base_loads,
                "adapter_loads": self.bank.adapter_loads}

    def close(self) -> None:
        if self.bank is not None:
            self.bank.close()


class Sweep:
    def __init__(self, args, lib: Library, probes, cache: Cache, engine: Engine):
        self.args, self.lib, self.probes, self.cache, self.engine = args, lib, probes, cache, engine
        self.digest = probe_digest(probes, lib.em)
        self.jkey = judge_key(args, lib) if args.judge else None
        self.judged = 0  # samples sent to the judge in this run (the cache's readings are not)

    def evaluate(self, ck: Checkpoint | None, label: str, spec: TargetSpec) -> dict:
        """{"scores", "rows", "seconds", "cached"} for one target (from the cache when it has it)."""
        args = self.args
        key = self.cache.key(ck, spec, self.digest, args)
        hit = self.cache.load(label, key)
        judged = (hit or {}).get("judge", {})
        load = 0.0
        if hit is not None:
            gens, seconds = hit["gens"], float(hit.get("seconds") or 0.0)
        else:
            start = time.monotonic()
            target = self.engine.open(spec)
            load = time.monotonic() - start
            try:
                gens = generate_all(target, self.probes, self.lib, args, label)
            finally:
                target.close()
            seconds = time.monotonic() - start - load
            self.cache.save(label, key, spec.describe(), gens, seconds)
        scores, rows = score_all(self.probes, gens, self.lib, args)
        if self.jkey:
            readings = judged.get(self.jkey)
            if readings is None or len(readings) != len(rows):
                readings = judge_readings(self.probes, rows, self.lib, args)
                self.judged += len(rows)
                self.cache.save(label, key, spec.describe(), gens, seconds, {**judged, self.jkey: readings})
            scores.update(apply_readings(rows, readings, self.lib))
        return {"scores": scores, "rows": rows, "seconds": seconds, "load_seconds": load, "cached": hit is not None}


def base_loss(run_dir: Path | None, cks: list[Checkpoint]) -> float | None:
    """The eval loss the trainer logged at step 0 (before training), when it did."""
    if run_dir is None:
        return None
    return eval_losses(run_dir, [c.folder for c in cks if c.folder is not None]).get(0)


def _with_band(metrics: list[str]) -> list[str]:
    out = list(metrics)
    if "participation" in out:
        out.insert(out.index("participation") + 1, BAND_METRIC)
    return out


def run_sweep(args) -> int:
    lib = load_library(args.scenarios, args.prompts)
    cks, base, run_dir = sweep_targets(args.sweep, args.base)
    musts = must_have(args)
    if args.judge:
        judge_provider(args, None)  # a missing key is a usage error before any generation
    out = out_path(args, "-sweep")
    probes, sources = probes_for(args, lib)
    cache = Cache(None if args.no_cache else Path(args.cache or DEFAULT_CACHE))
    engine = Engine(base, args)
    sweep = Sweep(args, lib, probes, cache, engine)
    bands = {lv: tuple(lib.band(lv)) for lv in lib.mix["engagement"]}
    n_boot, seed = args.bootstrap, args.seed
    started = time.monotonic()
    try:
        base_res = sweep.evaluate(None, "base", base)
        done: list[tuple[Checkpoint, dict]] = []
        failed: list[dict] = []
        for i, ck in enumerate(cks):
            try:
                res = sweep.evaluate(ck, ck.label, ck.spec)
            except Exception as e:  # noqa: BLE001 - one bad checkpoint (a broken file, a model the server lacks) is skipped
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                warn(f"{ck.label}: failed, skipped: {msg}")
                failed.append({"label": ck.label, "step": ck.step, "target": ck.spec.describe(), "error": msg})
                continue
            took = "cached" if res["cached"] else f"{res['seconds']:.1f}s sampling, {res['load_seconds']:.1f}s loading"
            print(f"em-gen eval: {ck.label}: {took} ({i + 1}/{len(cks)})", file=sys.stderr)
            done.append((ck, res))
    finally:
        engine.close()
    if not done:
        raise EvalFailure(f"every checkpoint failed ({'; '.join(f['label'] + ': ' + f['error'] for f in failed)})")
    metrics = _with_band(ordered(set(base_res["scores"]).union(*(set(r["scores"]) for _, r in done))))

    def summary(res: dict) -> dict:
        s = summarise(res["scores"], probes, lib, n_boot, seed, samples=_sample_counts(res["rows"]))
        s[BAND_METRIC] = band_stat(res["scores"].get("participation", {}), {p.id: p for p in probes}, bands,
                                   n_boot, seed)
        return {m: s[m] for m in metrics if m in s}

    def versus(res: dict) -> dict:
        c = compare(base_res["scores"], res["scores"], probes, lib, n_boot, seed)
        c[BAND_METRIC] = paired_band(base_res["scores"].get("participation", {}), res["scores"].get("participation", {}),
                                     {p.id: p for p in probes}, bands, n_boot, seed)
        return {m: c[m] for m in metrics if m in c}

    entries = []
    for ck, res in done:
        entries.append({"label": ck.label, "step": ck.step, "eval_loss": ck.eval_loss, "target": ck.spec.describe(),
                        "seconds": round(res["seconds"], 2), "load_seconds": round(res["load_seconds"], 2),
                        "cached": res["cached"], "metrics": summary(res),
                        "compare": versus(res)})
    verdict = decide(base_res["scores"], [{"label": ck.label, "scores": r["scores"]} for ck, r in done],
                     {e["label"]: e["compare"] for e in entries}, [m for m in metrics], [m for m in musts if m in metrics],
                     probes, bands, n_boot, seed)
    report = {"version": REPORT_VERSION, "kind": "sweep", **report_head(args, lib, probes, sources),
              "run_dir": str(run_dir) if run_dir else None, "must_have": musts,
              "base": {"label": "base", "target": base.describe(), "eval_loss": base_loss(run_dir, cks),
                       "seconds": round(base_res["seconds"], 2),
                       "load_seconds": round(base_res["load_seconds"], 2),
                       "cached": base_res["cached"], "metrics": summary(base_res)},
              "checkpoints": entries, "failed": failed, **verdict,
              "timing": {"wall_seconds": round(time.monotonic() - started, 2), "cache": str(cache.folder) if cache.folder
                         else None, "cache_hits": cache.hits, "cache_misses": cache.misses, "judged_samples": sweep.judged,
                         **engine.facts()},
              "probes": [p.info() for p in probes]}
    samples = [{"target": "base", **r} for r in base_res["rows"]]
    for ck, res in done:
        samples += [{"target": ck.label, **r} for r in res["rows"]]
    samples_path = write_report(out, report, samples)
    print(format_sweep(report))
    print(f"\nreport: {out}\nsamples: {samples_path}")
    if args.report == "":
        from em_gen.report import write_report_page
        print(f"page: {write_report_page(out)} (opens offline)")
    return EXIT_OK
