"""--prices can never switch off the spending cap (#19 item 4)."""
from __future__ import annotations

import pytest

from em_gen.cli import main
from em_gen.library import BadInput
from em_gen.providers import pricing_for


@pytest.mark.parametrize("text, field", [
    ("my-model: {in: 3, out: 15}\n", "in"),                      # misspelled keys: every request would cost $0
    ("my-model: {input: 3}\n", "output"),                        # a missing output price
    ("my-model: {input: 3, output: -15}\n", "output"),           # a negative price: a negative total
    ("my-model: {input: 3, output: 15, cache_reed: 1}\n", "cache_reed"),
    ("my-model: {input: three, output: 15}\n", "input"),
    ("- just a list\n", "$"),
])
def test_a_bad_price_table_names_the_file_and_the_field(tmp_path, text, field):
    f = tmp_path / "prices.yaml"
    f.write_text(text)
    with pytest.raises(BadInput) as e:
        pricing_for("my-model", "anthropic", str(f))
    msg = str(e.value)
    assert str(f) in msg and field in msg and "\n" not in msg


def test_a_good_price_table_prices_the_model(tmp_path):
    f = tmp_path / "prices.yaml"
    f.write_text("my-model: {input: 3, output: 15, cache_read: 0.3}\n")
    p = pricing_for("my-model", "anthropic", str(f))
    assert p.cost({"input_tokens": 1_000_000, "output_tokens": 1_000_000}) == pytest.approx(18.0)


def test_an_unpriced_paid_model_needs_allow_unpriced_and_never_runs_under_max_cost(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    out = tmp_path / "d"
    base = ["--batch", "2", "--provider", "anthropic", "--model", "claude-imaginary-9", "--no-judge", "--out", str(out)]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "claude-imaginary-9" in err and "--allow-unpriced" in err and "--prices" in err
    assert main([*base, "--allow-unpriced", "--max-cost", "5"]) == 2
    assert "--max-cost" in capsys.readouterr().err
    assert not out.exists()  # refused before anything was written
