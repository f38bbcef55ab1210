"""The owner's settings become the lot engine's policy: pooling jurisdictions (uk, ca) take
no lot method even though the settings default one, so their ledgers replay at all."""

from __future__ import annotations

from pathlib import Path

from harvestd.commands.backfill import policy_for
from harvestd.settings import load_settings
from ledger.engine import Jurisdiction, LotMethod, replay

LOCAL = Path(__file__).resolve().parents[3] / "config" / "local.yaml"


def _with_owner(tmp_path: Path, owner: str) -> Path:
    text = LOCAL.read_text()
    text = text[: text.index("owner:")] + owner + text[text.index("\nchains:") :]
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_us_keeps_the_configured_method() -> None:
    policy = policy_for(load_settings(LOCAL, environ={}))
    assert policy.jurisdiction is Jurisdiction.US
    assert policy.method is LotMethod.HIFO
    assert policy.wash_sale is False  # config/local.yaml: crypto is outside the US rule


def test_wash_sale_setting_reaches_the_engine(tmp_path: Path) -> None:
    owner = (
        "owner:\n  jurisdiction: us\n  method: fifo\n  wash_sale: true\n"
        "  tax_rates:\n    short_term: 0.35\n    long_term: 0.15\n"
    )
    policy = policy_for(load_settings(_with_owner(tmp_path, owner), environ={}))
    assert policy.wash_sale is True
    assert policy.method is LotMethod.FIFO


def test_pooling_jurisdictions_take_no_method(tmp_path: Path) -> None:
    for code in ("uk", "ca"):
        owner = f"owner:\n  jurisdiction: {code}\n  tax_rates:\n    flat: 0.2\n"
        policy = policy_for(load_settings(_with_owner(tmp_path, owner), environ={}))
        assert policy.jurisdiction is Jurisdiction(code)
        assert policy.method is None
        assert replay([], policy).disposals == ()
