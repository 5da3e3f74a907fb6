"""Local checkpoint sweeps: one base model, loaded once; each checkpoint's LoRA adapter is loaded onto
it by name (peft `load_adapter`), made active (`set_adapter`), sampled, and deleted once the next one
is active, so at most two adapters are resident and the base is never reloaded. The base itself is
sampled with the adapters disabled. Targets that are not adapters on this base are opened as usual.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from em_gen.evaluate.targets import HFTarget, TargetSpec, _import_torch, open_target


class _View:
    """One target of the bank: generate() runs on the shared model with this adapter active."""

    def __init__(self, bank: "AdapterBank", name: str | None):
        self.bank, self.name = bank, name

    def generate(self, *a, **kw):
        return self.bank.generate(self.name, *a, **kw)

    def close(self) -> None:
        pass  # the bank outlives its views


class AdapterBank:
    def __init__(self, base: TargetSpec, device: str, batch_size: int):
        self.spec, self.device, self.batch_size = base, device, batch_size
        self.target: HFTarget | None = None  # loaded on first use: a fully cached sweep loads nothing
        self.peft_model = None
        self.active: str | None = None
        self.base_loads = self.adapter_loads = 0

    def serves(self, spec: TargetSpec) -> bool:
        return spec.kind == "hf" and Path(spec.model).resolve() == Path(self.spec.model).resolve()

    def _load_base(self) -> HFTarget:
        if self.target is None:
            self.target = HFTarget(TargetSpec("hf", self.spec.model), device=self.device, batch_size=self.batch_size)
            self.base_loads += 1
        return self.target

    def open(self, spec: TargetSpec):
        """A target for `spec`: a view on the bank when it is this base or an adapter on it."""
        if not self.serves(spec):
            return open_target(spec, device=self.device, batch_size=self.batch_size)
        if spec.adapter is None:
            self._load_base()
            return _View(self, None)
        name = f"a{self.adapter_loads}"
        _torch, _tf, peft = _import_torch(True)
        from peft.utils import load_peft_weights
        load_peft_weights(spec.adapter, device="cpu")  # a broken file fails here, before any model is touched
        t = self._load_base()
        try:
            if self.peft_model is None:
                self.peft_model = peft.PeftModel.from_pretrained(t.model, spec.adapter, adapter_name=name).eval()
                t.model = self.peft_model
            else:
                self.peft_model.load_adapter(spec.adapter, adapter_name=name)
        except Exception:
            self._drop(name)
            raise
        self.adapter_loads += 1
        self.peft_model.set_adapter(name)
        self.peft_model.eval()
        old, self.active = self.active, name
        if old is not None:
            self._drop(old)
        return _View(self, name)

    def _drop(self, name: str) -> None:
        pm = self.peft_model
        if pm is not None and name in getattr(pm, "peft_config", {}) and len(pm.peft_config) > 1:
            try:
                pm.delete_adapter(name)
            except (ValueError, KeyError, AttributeError):
                pass

    def generate(self, name: str | None, *a, **kw):
        t = self._load_base()
        pm = self.peft_model
        if name is None:
            ctx = pm.disable_adapter() if pm is not None else nullcontext()
        else:
            if self.active != name:
                pm.set_adapter(name)
                self.active = name
            ctx = nullcontext()
        with ctx:
            return t.generate(*a, **kw)

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
        self.target = self.peft_model = None
