"""The models `em-gen eval` talks to. Both continue plain text (an IRC completion model, no chat template):

* `hf`     a local Hugging Face checkpoint, optionally with a LoRA adapter (transformers + peft, CPU or
           GPU). torch, transformers and peft are imported only here, only when such a target is opened.
* `openai` an OpenAI-compatible `/v1/completions` endpoint (vLLM, llama.cpp server, the offline
           stand-in) through the official `openai` SDK.

Target specs (for `--compare`, and how a target is named in the report):

    hf:PATH             a local checkpoint folder
    hf:PATH+ADAPTER     ... with a LoRA adapter folder (PATH is taken whole when it exists as is)
    openai:URL#MODEL    the model MODEL served at URL (".../v1" is added when URL has no path)
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from em_gen.library import BadInput

INSTALL_HINT = "install the eval extra: pip install torch==2.13.0 && pip install -e '.[eval]'"


class EvalFailure(RuntimeError):
    """The evaluation could not run (an endpoint down, a generation error): exit 1."""


@dataclass(frozen=True)
class TargetSpec:
    kind: str  # "hf" or "openai"
    model: str  # checkpoint folder (hf) or served model name (openai)
    adapter: str | None = None
    url: str | None = None

    def describe(self) -> str:
        if self.kind == "hf":
            return f"hf:{self.model}" + (f"+{self.adapter}" if self.adapter else "")
        return f"openai:{self.url}#{self.model}"


@dataclass
class Completion:
    text: str  # the raw continuation, special tokens other than EOS kept
    finish: str  # "stop": the model ended (EOS); "length": it ran to the token budget


def normalise_url(url: str, flag: str = "--endpoint") -> str:
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise BadInput(f"{flag}: {url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    return url.rstrip("/") + "/v1" if u.path in ("", "/") else url.rstrip("/")


def parse_spec(text: str, flag: str = "--compare") -> TargetSpec:
    """`hf:PATH[+ADAPTER]` or `openai:URL#MODEL` (see the module doc)."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("hf", "openai") or not rest:
        raise BadInput(f"{flag}: {text!r} is not a target; use hf:PATH, hf:PATH+ADAPTER or openai:URL#MODEL")
    if kind == "openai":
        url, sep, model = rest.rpartition("#")
        if not sep or not url or not model:
            raise BadInput(f"{flag}: {text!r}: an openai target names its model: openai:URL#MODEL")
        return TargetSpec("openai", model, url=normalise_url(url, flag))
    path, adapter = rest, None
    if "+" in rest and not Path(rest).exists():
        path, _, adapter = rest.rpartition("+")
        if not path or not adapter:
            raise BadInput(f"{flag}: {text!r}: expected hf:PATH+ADAPTER")
    return TargetSpec("hf", path, adapter=adapter)


def check_spec(spec: TargetSpec, flag: str | None = None) -> None:
    """Cheap checks before anything heavy is imported: the folders exist and look right. `flag` names
    the option in the message (default --model / --adapter)."""
    if spec.kind != "hf":
        return
    if not (Path(spec.model) / "config.json").is_file():
        raise BadInput(f"{flag or '--model'} {spec.model}: not a Hugging Face checkpoint folder (no config.json); "
                       "for a served model pass --endpoint URL")
    if spec.adapter is not None and not (Path(spec.adapter) / "adapter_config.json").is_file():
        raise BadInput(f"{flag or '--adapter'} {spec.adapter}: not a LoRA adapter folder (no adapter_config.json)")


def open_target(spec: TargetSpec, *, device: str = "auto", batch_size: int = 8, concurrency: int = 8,
                timeout: float = 300.0):
    if spec.kind == "hf":
        return HFTarget(spec, device=device, batch_size=batch_size)
    return OpenAITarget(spec, concurrency=concurrency, timeout=timeout)


# ------------------------------------------------------------------------------------------------
# local checkpoint


def _import_torch(with_peft: bool):
    try:
        import torch
        import transformers
        peft = None
        if with_peft:
            import peft
    except ImportError as e:
        raise BadInput(f"--model: evaluating a local checkpoint needs torch, transformers"
                       f"{' and peft' if with_peft else ''} ({e.name or e} is missing); {INSTALL_HINT}") from None
    return torch, transformers, peft


class HFTarget:
    """A causal LM folder (+ LoRA adapter, merged for speed) sampled with `model.generate`.

    What a real tokenizer and a CPU needed (found on Gemma 3 270M, scripts/small-model.sh):
    * every sample is its own row and at most `batch_size` rows go into one generate call, so memory
      is bounded by rows, not prompts x samples; rows are ordered by prompt length, so a batch pads
      little (left padding, as a decoder-only model needs);
    * generation stops per row at the next speaker's tag once the probe's lines are written
      (`lines`), instead of running every row to the token budget;
    * every end-of-sequence id the checkpoint declares (tokenizer and generation_config) ends a row;
      the prompt gets the tokenizer's BOS as in training and never a trailing EOS."""

    def __init__(self, spec: TargetSpec, device: str = "auto", batch_size: int = 8):
        torch, transformers, peft = _import_torch(spec.adapter is not None)
        self.torch, self.transformers, self.spec, self.batch_size = torch, transformers, spec, max(1, batch_size)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise BadInput("--device cuda: torch sees no CUDA device (use --device auto or cpu)")
        self.device = device
        if device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        try:
            self.tok = transformers.AutoTokenizer.from_pretrained(spec.model)
            model = transformers.AutoModelForCausalLM.from_pretrained(spec.model, dtype=dtype)
        except (OSError, ValueError, KeyError) as e:
            raise BadInput(f"--model {spec.model}: cannot load the checkpoint: {str(e).splitlines()[0]}") from None
        if spec.adapter is not None:
            try:
                model = peft.PeftModel.from_pretrained(model, spec.adapter)
            except (OSError, ValueError, KeyError, RuntimeError) as e:
                raise BadInput(f"--adapter {spec.adapter}: cannot load the adapter: {str(e).splitlines()[0]}") from None
            model = model.merge_and_unload()
        self.model = model.to(device).eval()
        self.eos = self.tok.eos_token_id
        declared = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        declared = declared if isinstance(declared, (list, tuple)) else [declared]
        self.eos_ids = sorted({i for i in [self.eos, *declared] if i is not None})
        self.pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos

    def _decode(self, prompt_ids: list[int], new_ids: list[int]) -> str:
        """The continuation as text: decode prompt + new and drop the decoded prompt, so that word
        boundaries (sentencepiece's leading spaces) come out as in the whole log."""
        head = self.tok.decode(prompt_ids, skip_special_tokens=False)
        full = self.tok.decode(prompt_ids + new_ids, skip_special_tokens=False)
        return full[len(head):] if full.startswith(head) else self.tok.decode(new_ids, skip_special_tokens=False)

    def _encode(self, prompt: str) -> list[int]:
        ids = self.tok(prompt)["input_ids"]  # BOS as in training, never a trailing EOS
        return ids[:-1] if len(ids) > 1 and ids[-1] in self.eos_ids else ids

    def generate(self, prompts: list[str], samples: int, max_tokens: int, temperature: float, top_p: float,
                 seed: int, progress=None, lines: int | None = None) -> list[list[Completion]]:
        """`samples` continuations of each prompt. `lines`: stop a row once it holds that many messages
        (a prompt ending in `<nick>` counts the line it completes) and the next speaker's tag begins."""
        torch = self.torch
        enc = [self._encode(p) for p in prompts]
        # greedy decoding gives the same sequence every time: one row per prompt, repeated below
        per_prompt = samples if temperature > 0 else 1
        rows = sorted(((i, s) for i in range(len(prompts)) for s in range(per_prompt)),
                      key=lambda r: (-len(enc[r[0]]), r))
        got: dict[tuple[int, int], Completion] = {}
        for b in range(0, len(rows), self.batch_size):
            chunk = rows[b: b + self.batch_size]
            ids_list = [enc[i] for i, _ in chunk]
            width = max(map(len, ids_list))
            ids = torch.tensor([[self.pad] * (width - len(e)) + e for e in ids_list], device=self.device)
            mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in ids_list], device=self.device)
            sampling = dict(do_sample=True, temperature=temperature, top_p=top_p) if temperature > 0 \
                else dict(do_sample=False)
            stop = None
            if lines:
                forced = [not prompts[i].endswith("\n") for i, _ in chunk]
                stop = self.transformers.StoppingCriteriaList([_NextSpeaker(self.tok, width, forced, lines, torch)])
            torch.manual_seed(seed * 1_000_003 + b)
            try:
                with torch.no_grad():
                    gen = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens,
                                              pad_token_id=self.pad, eos_token_id=self.eos_ids,
                                              stopping_criteria=stop, **sampling)
            except RuntimeError as e:  # out of memory, device errors
                raise EvalFailure(f"generation failed on {self.spec.describe()}: {str(e).splitlines()[0]}") from None
            for (i, s), new in zip(chunk, gen[:, width:].tolist()):
                finish = "length"
                ends = [k for k, t in enumerate(new) if t in self.eos_ids]
                if ends:
                    new, finish = new[: ends[0]], "stop"
                text = self._decode(enc[i], new)
                if lines and finish == "length":
                    cut = next_speaker_cut(text, not prompts[i].endswith("\n"), lines)
                    if cut is not None:
                        text, finish = text[:cut], "stop"
                got[(i, s)] = Completion(text, finish)
            if progress is not None:
                progress(len(chunk) * (samples // per_prompt))
        return [[got[(i, s if temperature > 0 else 0)] for s in range(samples)] for i in range(len(prompts))]

    def close(self) -> None:
        self.model = None  # with --compare the next target loads after this one is gone
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


def next_speaker_cut(text: str, forced: bool, lines: int) -> int | None:
    """Where to cut a continuation that has written `lines` messages and begun the next one: the
    index just after the newline that precedes the next `<` speaker tag; None while it has not.
    A prompt ending in `<nick>` (forced) makes the text up to the first newline one message; later
    lines count when they start with a tag (an untagged line continues the message before it)."""
    done, pos = 0, 0
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return None
        line = text[pos:nl]
        if (forced and pos == 0) or line.lstrip().startswith("<"):
            done += 1
        pos = nl + 1
        if done >= lines and text[pos:].lstrip(" ").startswith("<"):
            return pos


class _NextSpeaker:
    """A transformers stopping criterion: per row, True once next_speaker_cut finds the cut. Only a
    row whose newest token holds a `<` is decoded, so the check costs little beside a forward pass."""

    def __init__(self, tok, width: int, forced: list[bool], lines: int, torch):
        self.tok, self.width, self.forced, self.lines, self.torch = tok, width, forced, lines, torch
        self.done = [False] * len(forced)

    def __call__(self, input_ids, scores, **kwargs):
        for r, row in enumerate(input_ids.tolist()):
            new = row[self.width:]
            if not self.done[r] and new and "<" in self.tok.decode(new[-1:], skip_special_tokens=False):
                text = self.tok.decode(new, skip_special_tokens=False)
                self.done[r] = next_speaker_cut(text, self.forced[r], self.lines) is not None
        return self.torch.tensor(self.done, dtype=self.torch.bool, device=input_ids.device)


# ------------------------------------------------------------------------------------------------
# OpenAI-compatible endpoint


class OpenAITarget:
    """`completions.create` per sample (a per-request seed, so vLLM samples are reproducible), in
    parallel threads. No stop sequences: the raw continuation is what is evaluated."""

    def __init__(self, spec: TargetSpec, concurrency: int = 8, timeout: float = 300.0):
        import openai

        self.openai, self.spec, self.concurrency = openai, spec, max(1, concurrency)
        self.client = openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "EMPTY", base_url=spec.url,
                                    max_retries=2, timeout=timeout)

    def _one(self, prompt: str, max_tokens: int, temperature: float, top_p: float, seed: int) -> Completion:
        openai = self.openai
        try:
            r = self.client.completions.create(model=self.spec.model, prompt=prompt, max_tokens=max_tokens,
                                               temperature=temperature, top_p=top_p, seed=seed)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise BadInput(f"--endpoint {self.spec.url}: refused the key (HTTP {e.status_code}); "
                           "set OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise BadInput(f"--model {self.spec.model}: {self.spec.url} has no such model or no "
                           "/completions route (HTTP 404)") from None
        except openai.BadRequestError as e:
            raise EvalFailure(f"{self.spec.url} rejected a request: {str(e).splitlines()[0]}") from None
        except openai.APIConnectionError as e:
            raise EvalFailure(f"--endpoint {self.spec.url}: cannot connect ({e.__cause__ or e})") from None
        except openai.OpenAIError as e:
            raise EvalFailure(f"--endpoint {self.spec.url}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        if not r.choices:
            raise EvalFailure(f"--endpoint {self.spec.url}: a reply with no choices")
        c = r.choices[0]
        return Completion(c.text or "", "length" if c.finish_reason == "length" else "stop")

    def generate(self, prompts: list[str], samples: int, max_tokens: int, temperature: float, top_p: float,
                 seed: int, progress=None, lines: int | None = None) -> list[list[Completion]]:
        jobs = [(i, s) for i in range(len(prompts)) for s in range(samples)]
        out: list[list[Completion | None]] = [[None] * samples for _ in prompts]

        def run(job):
            i, s = job
            out[i][s] = self._one(prompts[i], max_tokens, temperature, top_p, seed * 1_000_003 + s)
            if progress is not None:
                progress(1)

        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            for f in as_completed([pool.submit(run, j) for j in jobs]):
                f.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the first failure stops the rest
            raise
        pool.shutdown()
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self.client.close()


def warn(msg: str) -> None:
    print(f"em-gen eval: {msg}", file=sys.stderr)
