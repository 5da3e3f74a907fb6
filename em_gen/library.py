"""Load and validate the data folders: scenarios/ (mix, core scenarios, topics, nicks, judge rubric)
and prompts/.

Every file is checked against its JSON Schema in scenarios/schema/ before any request is made; a
bad file raises `BadInput` with one line naming the file and the JSON path.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = ROOT / "scenarios"
PROMPTS_DIR = ROOT / "prompts"
SCENARIO_FILES = ("mix", "core", "topics", "nicks", "judge")
PROMPT_FILES = ("character.md", "examples.md", "format.md", "job.md", "continue.md", "judge.md", "judge_examples.md")


class BadInput(Exception):
    """Bad usage or bad input: the CLI prints the message as one line and exits 2."""


def _json_path(err: jsonschema.ValidationError) -> str:
    path = "$"
    for part in err.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def load_yaml(path: Path, schema_name: str | None = None, schema_dir: Path | None = None):
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise BadInput(f"{path}{at}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    if schema_name:
        schema_path = (schema_dir or SCENARIOS_DIR / "schema") / f"{schema_name}.schema.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
        if err is not None:
            raise BadInput(f"{path}: {_json_path(err)}: {err.message}")
    return data


@dataclass(frozen=True)
class Library:
    mix: dict
    core: dict
    topics: dict
    nicks: list
    prompts: dict  # file name -> text
    judge: dict  # the character judge's failure families (scenarios/judge.yaml)
    fingerprint: str  # hash of every scenario and prompt file: changes when the plan's inputs change

    @property
    def em(self) -> str:
        return self.mix["em_nick"]

    @functools.cached_property
    def other_nicks(self) -> list[str]:
        return [x for x in self.nicks if x.lower() != self.em.lower()]

    def band(self, engagement: str) -> tuple[float, float]:
        lo, hi = self.mix["engagement"][engagement]["band"]
        return float(lo), float(hi)

    def buckets(self) -> dict[str, tuple[int, int]]:
        return {k: tuple(v["messages"]) for k, v in self.mix["lengths"].items()}

    def scenario(self, scenario_id: str) -> dict:
        pattern, sub = scenario_id.split("/", 1)
        return self.core["patterns"][pattern]["scenarios"][sub]


def _check_weights(path: Path, section: str, items: dict) -> None:
    total = sum(v["weight"] for v in items.values())
    if abs(total - 1.0) > 1e-6:
        raise BadInput(f"{path}: $.{section}: weights add up to {total:g}, not 1")


def load_library(scenarios_dir: Path | None = None, prompts_dir: Path | None = None) -> Library:
    sdir = Path(scenarios_dir or SCENARIOS_DIR)
    pdir = Path(prompts_dir or PROMPTS_DIR)
    digest = hashlib.sha256()
    loaded = {}
    for name in SCENARIO_FILES:
        path = sdir / f"{name}.yaml"
        loaded[name] = load_yaml(path, name, sdir / "schema")
        digest.update(name.encode() + b"\0" + json.dumps(loaded[name], sort_keys=True).encode())
    mix, core, topics = loaded["mix"], loaded["core"], loaded["topics"]
    for section in ("engagement", "channels", "lengths"):
        _check_weights(sdir / "mix.yaml", section, mix[section])
    _check_weights(sdir / "core.yaml", "patterns", core["patterns"])
    _check_weights(sdir / "topics.yaml", "topics", topics["topics"])
    for level, spec in mix["engagement"].items():
        lo, hi = spec["band"]
        if lo > hi:
            raise BadInput(f"{sdir / 'mix.yaml'}: $.engagement.{level}.band: low end {lo} is above high end {hi}")
    for bucket, spec in mix["lengths"].items():
        lo, hi = spec["messages"]
        if lo > hi:
            raise BadInput(f"{sdir / 'mix.yaml'}: $.lengths.{bucket}.messages: {lo} is above {hi}")
        if bucket not in mix["bytes_per_conversation"]:
            raise BadInput(f"{sdir / 'mix.yaml'}: $.bytes_per_conversation: missing bucket {bucket!r}")
    for tid, t in topics["topics"].items():
        for ch in t.get("channels", []):
            if ch not in mix["channels"]:
                raise BadInput(f"{sdir / 'topics.yaml'}: $.topics.{tid}.channels: unknown channel {ch!r}")
    prompts = {}
    for name in PROMPT_FILES:
        path = pdir / name
        try:
            prompts[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"{path}: prompt template not found") from None
        digest.update(name.encode() + b"\0" + prompts[name].encode())
    return Library(mix=mix, core=core, topics=topics["topics"], nicks=loaded["nicks"]["nicks"],
                   prompts=prompts, judge=loaded["judge"], fingerprint=digest.hexdigest()[:16])
