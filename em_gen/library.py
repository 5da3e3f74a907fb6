"""Load and validate the data folders: scenarios/ (mix, core scenarios, topics, nicks, voices, premises,
judge rubric) and prompts/.

Premises are every `*.yaml` under scenarios/premises/ (`{topic, premises: [...]}`: the hand-written
`<topic>.yaml` files first, then the files below them such as `expanded/<topic>-<stamp>.yaml` from
`em-gen premises --expand`, in path order); their topic must be one of topics.yaml, each topic
needs at least one, and a premise may appear only once in the whole library. Neither a premise nor
a voice may speak of Em: Em's voice comes from prompts/character.md alone.

Every file is checked against its JSON Schema in scenarios/schema/ before any request is made; a
bad file raises `BadInput` with one line naming the file and the JSON path.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = ROOT / "scenarios"
PROMPTS_DIR = ROOT / "prompts"
SCENARIO_FILES = ("mix", "core", "topics", "nicks", "voices", "judge")
PREMISES_DIR = "premises"
PROMPT_FILES = ("character.md", "examples.md", "format.md", "job.md", "continue.md", "judge.md", "judge_examples.md")
EXTRA_PROMPTS = ("premises.md",)  # em-gen premises --expand: read, but not part of a run's fingerprint


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the premise files are large


class BadInput(Exception):
    """Bad usage or bad input: the CLI prints the message as one line and exits 2."""


def _json_path(err: jsonschema.ValidationError) -> str:
    path = "$"
    for part in err.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def load_yaml(path: Path, schema_name: str | None = None, schema_dir: Path | None = None):
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise BadInput(f"{path}{at}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    if schema_name:
        schema_path = (schema_dir or SCENARIOS_DIR / "schema") / f"{schema_name}.schema.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        light, ok = _big_lists_checked(schema, data)
        validator = jsonschema.Draft202012Validator(schema)
        err = jsonschema.exceptions.best_match(validator.iter_errors(light if ok else data))
        if err is not None:
            raise BadInput(f"{path}: {_json_path(err)}: {err.message}")
    return data


_LIST_KEYS, _ITEM_KEYS = {"type", "minItems", "uniqueItems", "items"}, {"type", "minLength", "maxLength", "pattern"}


def _big_lists_checked(schema: dict, data):
    """The pools (thousands of premises, nicks) checked here against their own schema's item rules
    (string, length, pattern, unique, how many), far faster than jsonschema item by item: returns
    the document with each such list cut to its minimum for jsonschema to check the rest, and
    whether the lists passed (when not, jsonschema checks the whole document and names the item)."""
    if not isinstance(data, dict):
        return data, True
    light = dict(data)
    for key, spec in (schema.get("properties") or {}).items():
        v, items = data.get(key), (spec or {}).get("items")
        if not (isinstance(v, list) and len(v) > 64 and spec.get("type") == "array" and set(spec) <= _LIST_KEYS
                and isinstance(items, dict) and items.get("type") == "string" and set(items) <= _ITEM_KEYS):
            continue
        pat = re.compile(items["pattern"]) if "pattern" in items else None
        lo, hi, least = items.get("minLength", 0), items.get("maxLength"), spec.get("minItems", 0)
        if not (len(v) >= least and all(isinstance(x, str) and len(x) >= lo and (hi is None or len(x) <= hi)
                                        and (pat is None or pat.search(x)) for x in v)
                and (not spec.get("uniqueItems") or len(set(v)) == len(v))):
            return data, False
        light[key] = v[: max(1, least)]
    return light, True


@dataclass(frozen=True)
class Library:
    mix: dict
    core: dict
    topics: dict
    nicks: list
    prompts: dict  # file name -> text
    judge: dict  # the character judge's failure families (scenarios/judge.yaml)
    fingerprint: str  # hash of every scenario and prompt file: changes when the plan's inputs change
    voices: tuple = ()  # one-line voices for the other speakers (scenarios/voices.yaml)
    premises: dict | None = None  # topic id -> tuple of premises (scenarios/premises/**.yaml)
    premise_files: tuple = ()  # the premise files read, relative to scenarios/, in load order

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


def _mentions(name: str) -> re.Pattern:
    """`Em` as a word, any case, but not the typographic em dash / em space."""
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-]|\s+(?:dash|space|rule)\b|-(?:dash|space))", re.I)


def load_premises(sdir: Path, topics: dict, em: str) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...], bytes]:
    """Every premise file under sdir/premises/: (topic -> premises, files read, their canonical bytes)."""
    root = sdir / PREMISES_DIR
    if not root.is_dir():
        raise BadInput(f"{root}: folder not found (one `<topic>.yaml` of premises per topic of topics.yaml)")
    files = sorted(root.rglob("*.yaml"), key=lambda p: (len(p.relative_to(root).parts), str(p)))
    by_topic: dict[str, list[str]] = {t: [] for t in topics}
    seen: dict[str, str] = {}
    names_em, em_low = _mentions(em), em.lower()
    canon = []
    for path in files:
        data = load_yaml(path, "premises", sdir / "schema")
        topic, rel = data["topic"], str(path.relative_to(sdir))
        if topic not in topics:
            raise BadInput(f"{path}: $.topic: unknown topic {topic!r} (topics.yaml has {', '.join(topics)})")
        for i, text in enumerate(data["premises"]):
            text = " ".join(text.split())
            if em_low in text.lower() and names_em.search(text):
                raise BadInput(f"{path}: $.premises[{i}]: a premise never speaks of {em} "
                               f"({em}'s voice comes from prompts/character.md): {text[:60]!r}")
            key = text.lower()
            if key in seen:
                raise BadInput(f"{path}: $.premises[{i}]: the same premise is already in {seen[key]}: {text[:60]!r}")
            seen[key] = rel
            by_topic[topic].append(text)
        canon.append(json.dumps([str(path.relative_to(sdir)), data], sort_keys=True))
    empty = [t for t, ps in by_topic.items() if not ps]
    if empty:
        raise BadInput(f"{root}: no premises for topic(s) {', '.join(empty)} (add {root}/{empty[0]}.yaml)")
    return ({t: tuple(ps) for t, ps in by_topic.items()}, tuple(str(p.relative_to(sdir)) for p in files),
            "\n".join(canon).encode())


def load_library(scenarios_dir: Path | None = None, prompts_dir: Path | None = None) -> Library:
    sdir = Path(scenarios_dir or SCENARIOS_DIR).expanduser()
    pdir = Path(prompts_dir or PROMPTS_DIR).expanduser()
    for flag, d in (("--scenarios", sdir), ("--prompts", pdir)):
        if not d.is_dir():
            raise BadInput(f"{flag} {d}: {'not a folder (it is a file)' if d.exists() else 'no such folder'}; "
                           f"name the folder that holds the {flag[2:]} files")
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
    names_em = _mentions(mix["em_nick"])
    for i, voice in enumerate(loaded["voices"]["voices"]):
        if names_em.search(voice):
            raise BadInput(f"{sdir / 'voices.yaml'}: $.voices[{i}]: a voice is for the other speakers, never {mix['em_nick']}")
    premises, premise_files, canon = load_premises(sdir, topics["topics"], mix["em_nick"])
    digest.update(b"premises\0" + canon)
    prompts = {}
    for name in PROMPT_FILES:
        path = pdir / name
        try:
            prompts[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"{path}: prompt template not found") from None
        except UnicodeDecodeError as e:
            raise BadInput(f"{path}: not UTF-8 text (byte {e.start}); save the template as UTF-8") from None
        except OSError as e:
            raise BadInput(f"{path}: cannot read the prompt template ({e.strerror or e})") from None
        if not prompts[name].strip():
            raise BadInput(f"{path}: the prompt template is empty")
        digest.update(name.encode() + b"\0" + prompts[name].encode())
    for name in EXTRA_PROMPTS:
        path = pdir / name
        if path.exists():
            prompts[name] = path.read_text(encoding="utf-8")
    return Library(mix=mix, core=core, topics=topics["topics"], nicks=loaded["nicks"]["nicks"],
                   prompts=prompts, judge=loaded["judge"], fingerprint=digest.hexdigest()[:16],
                   voices=tuple(loaded["voices"]["voices"]), premises=premises, premise_files=premise_files)
