"""The sweep's cache: one file per checkpoint and probe set, so that an interrupted sweep, or a rerun
with one more checkpoint, generates (and judges) nothing twice.

A file is named by a key over everything that decides the samples: the target (its spec and, for
local folders, the size and modification time of the base's config and the adapter's weights), the
probe set (every probe's id, prompt and turn count) and the sampling settings (samples, seed,
temperature, top-p, turns, line tokens; for a local model also the device and batch size, which
decide its random streams). It holds the raw continuations and, per judge (provider, model and
rubric), the judge's readings of them. Scoring is redone on every run (it is cheap and follows the
current rules). Files are written whole and renamed (fsynced): a kill leaves the old file or none.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from em_gen.evaluate.checkpoints import Checkpoint, adapter_weights
from em_gen.evaluate.probes import Probe
from em_gen.evaluate.targets import Completion, TargetSpec
from em_gen.generate.journal import atomic_write

DEFAULT_CACHE = Path("em_character_data") / "eval" / "cache"
VERSION = 1


def _stamp(path: Path | None) -> list | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def target_fingerprint(spec: TargetSpec, folder: Path | None) -> dict:
    out: dict = {"target": spec.describe()}
    if spec.kind == "hf":
        out["base_config"] = _stamp(Path(spec.model) / "config.json")
    if folder is not None:
        out["weights"] = _stamp(adapter_weights(folder))
    return out


def probe_digest(probes: list[Probe], em: str) -> str:
    h = hashlib.sha256()
    for p in probes:
        h.update(json.dumps([p.id, p.prompt(em), p.turns]).encode())
    return h.hexdigest()


def sampling(args, spec: TargetSpec) -> dict:
    out = {k: getattr(args, k) for k in ("samples", "seed", "temperature", "top_p", "turns", "line_tokens")}
    if spec.kind == "hf":
        out.update(device=args.device, batch_size=args.batch_size)
    return out


class Cache:
    """Samples per (checkpoint, probe set, settings); `folder` None: a cache that keeps nothing."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits = self.misses = 0

    def key(self, ck: Checkpoint | None, spec: TargetSpec, probes_digest: str, args) -> str:
        body = {"v": VERSION, **target_fingerprint(spec, ck.folder if ck else None), "probes": probes_digest,
                "sampling": sampling(args, spec)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def _path(self, label: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60]
        return self.folder / f"{safe}-{key[:20]}.json"

    def load(self, label: str, key: str) -> dict | None:
        """The cached entry {"gens": {probe: [Completion]}, "seconds", "judge": {...}} or None."""
        if self.folder is None:
            return None
        path = self._path(label, key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            self.misses += 1
            return None
        self.hits += 1
        data["gens"] = {pid: [Completion(t, f) for t, f in rows] for pid, rows in data["gens"].items()}
        return data

    def save(self, label: str, key: str, target: str, gens: dict[str, list[Completion]], seconds: float,
             judge: dict | None = None) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        body = {"key": key, "target": target, "seconds": round(seconds, 2),
                "gens": {pid: [[c.text, c.finish] for c in rows] for pid, rows in gens.items()},
                "judge": judge or {}}
        atomic_write(self._path(label, key), json.dumps(body, ensure_ascii=False) + "\n")
