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
    """A causal LM folder (+ LoRA adapter, merged for speed) sampled with `model.generate`."""

    def __init__(self, spec: TargetSpec, device: str = "auto", batch_size: int = 8):
        torch, transformers, peft = _import_torch(spec.adapter is not None)
        self.torch, self.spec, self.batch_size = torch, spec, max(1, batch_size)
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
        self.pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos

    def _decode(self, prompt_ids: list[int], new_ids: list[int]) -> str:
        """The continuation as text: decode prompt + new and drop the decoded prompt, so that word
        boundaries (sentencepiece's leading spaces) come out as in the whole log."""
        head = self.tok.decode(prompt_ids, skip_special_tokens=False)
        full = self.tok.decode(prompt_ids + new_ids, skip_special_tokens=False)
        return full[len(head):] if full.startswith(head) else self.tok.decode(new_ids, skip_special_tokens=False)

    def generate(self, prompts: list[str], samples: int, max_tokens: int, temperature: float, top_p: float,
                 seed: int, progress=None) -> list[list[Completion]]:
        torch = self.torch
        out: list[list[Completion]] = []
        for b in range(0, len(prompts), self.batch_size):
            chunk = prompts[b: b + self.batch_size]
            enc = [self.tok(p)["input_ids"] for p in chunk]  # BOS as in training, never a trailing EOS
            enc = [e[:-1] if len(e) > 1 and e[-1] == self.eos else e for e in enc]
            width = max(map(len, enc))
            ids = torch.tensor([[self.pad] * (width - len(e)) + e for e in enc], device=self.device)
            mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in enc], device=self.device)
            # greedy decoding gives one sequence per prompt (transformers refuses more): it is repeated
            sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, num_return_sequences=samples) \
                if temperature > 0 else dict(do_sample=False)
            torch.manual_seed(seed * 1_000_003 + b)
            try:
                with torch.no_grad():
                    gen = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens,
                                              pad_token_id=self.pad, eos_token_id=self.eos, **sampling)
            except RuntimeError as e:  # out of memory, device errors
                raise EvalFailure(f"generation failed on {self.spec.describe()}: {str(e).splitlines()[0]}") from None
            rows = gen[:, width:].tolist()
            if temperature <= 0:
                rows = [r for r in rows for _ in range(samples)]
            for i, e in enumerate(enc):
                got = []
                for s in range(samples):
                    new = rows[i * samples + s]
                    finish = "length"
                    if self.eos in new:
                        new, finish = new[: new.index(self.eos)], "stop"
                    got.append(Completion(self._decode(e, new), finish))
                out.append(got)
            if progress is not None:
                progress(len(chunk) * samples)
        return out

    def close(self) -> None:
        self.model = None  # with --compare the next target loads after this one is gone
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


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
                 seed: int, progress=None) -> list[list[Completion]]:
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
