"""The CLI's batch-API pieces: `--cancel-batches`, and the open batches shown by `--status` and at the
end of a run."""
from __future__ import annotations

import asyncio
import sys
import time

from em_gen.generate.journal import Store
from em_gen.library import BadInput, Library


def open_batches_lines(store: Store) -> list[str]:
    """One line per open batch: id, provider/model, role, requests (results read), age."""
    st = store.state
    out = []
    for rec in st.open_batches():
        n = len(rec["requests"])
        read = sum(1 for cid in rec["requests"] if cid in st.batch_seen)
        age = time.time() - rec.get("ts", time.time())
        out.append(f"  {rec['batch_id']}  {rec['provider']}/{rec['model']}  {rec.get('role', 'gen')}  "
                   f"{n} requests ({read} results read)  submitted {age / 60:.0f} min ago")
    return out


def print_open_batches(store: Store, out=sys.stderr) -> None:
    lines = open_batches_lines(store)
    if lines:
        print(f"{len(lines)} provider batch(es) still open (paid work in progress at the provider; "
              "--resume reads them, --cancel-batches cancels them):", file=out)
        for line in lines:
            print(line, file=out)


def cancel_batches(args, lib: Library, store: Store, make_runner) -> int:
    """--cancel-batches: cancel every open batch in --out and keep what already succeeded.
    `make_runner(provider_name, model, judge_model)` builds the BatchRunner and its providers."""
    open_ = store.state.open_batches()
    if not open_:
        raise BadInput(f"--cancel-batches: {store.out} has no open provider batch")
    first = open_[0]
    models = {r["model"] for r in open_}
    judge_model = next((m for m in models if m != first["model"]), None) if len(models) > 1 else None
    runner, providers = make_runner(first["provider"], first["model"], judge_model)

    async def go():
        try:
            return await runner.cancel_all()
        finally:
            for p in providers:
                if p is not None:
                    await p.aclose()
    ids = asyncio.run(go())
    print(f"canceled {len(ids)} batch(es): {', '.join(ids)}; results read: ${runner.out.cost:.4f} of paid work kept")
    return 0
