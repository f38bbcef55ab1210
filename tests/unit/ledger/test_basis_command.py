"""`harvestd basis`: tables, exact JSON, and clear refusals with a non-zero exit; plus the
basis-file reader's refusals (each names the event and the key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvestd.cli import app
from ledger.basisfile import MalformedBasisFile, UnknownEventKind, parse_basis_file

EXAMPLES = Path(__file__).parent / "examples"
runner = CliRunner()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "basis.yaml"
    path.write_text(text)
    return path


def test_json_output_is_the_documented_document() -> None:
    result = runner.invoke(app, ["basis", "--json", str(EXAMPLES / "basis_file_doc.yaml")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["disposals"][0] == {
        "id": "s1",
        "time": "2024-03-01T00:00:00Z",
        "asset": "ETH",
        "amount": "4",
        "proceeds": "11995",
        "cost": "8004",
        "gain": "3991",
        "term": "short",
        "disallowed_loss": "0",
        "reportable_gain": "3991",
        "matched": [
            {
                "lot": "b1",
                "rule": "hifo",
                "amount": "4",
                "cost": "8004",
                "proceeds": "11995",
                "gain": "3991",
                "term": "short",
            }
        ],
    }
    assert [(h["wallet"], h["amount"], h["cost"]) for h in document["holdings"]] == [
        ("main", "3", "6003"),
        ("cold", "2", "4002"),
    ]


def test_tables_by_default() -> None:
    result = runner.invoke(app, ["basis", str(EXAMPLES / "hmrc_crypto22255.yaml")])
    assert result.exit_code == 0, result.output
    assert "Disposals (uk, GBP)" in result.stdout
    assert "92,500.00" in result.stdout
    assert "thirty_day" in result.stdout


def test_sale_of_more_than_held_exits_1_naming_the_event(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
jurisdiction: us
method: fifo
events:
  - {id: b1, time: 2024-01-05, kind: buy, asset: ETH, amount: "1", value: "2000"}
  - {id: s1, time: 2024-03-01, kind: sell, asset: ETH, amount: "2", value: "5000", wallet: main}
""",
    )
    result = runner.invoke(app, ["basis", str(path)])
    assert result.exit_code == 1
    assert "event s1" in result.stderr and "holds 1" in result.stderr
    assert result.stdout == ""


def test_named_lot_that_does_not_exist_exits_1(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
jurisdiction: us
events:
  - {id: b1, time: 2024-01-05, kind: buy, asset: ETH, amount: "1", value: "2000"}
  - {id: s1, time: 2024-03-01, kind: sell, asset: ETH, amount: "1", value: "5000", lots: [{lot: b7, amount: "1"}]}
""",
    )
    result = runner.invoke(app, ["basis", "--json", str(path)])
    assert result.exit_code == 1
    assert "event s1" in result.stderr and "'b7'" in result.stderr


def test_unknown_kind_exits_2_naming_the_event(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
jurisdiction: us
events:
  - {id: b1, time: 2024-01-05, kind: stake, asset: ETH, amount: "1", value: "2000"}
""",
    )
    result = runner.invoke(app, ["basis", str(path)])
    assert result.exit_code == 2
    assert "event 'b1' (position 1)" in result.stderr and "'stake'" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["basis", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot be read" in result.stderr


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("events: [", "not valid YAML"),
        ("jurisdiction: mars\nevents: []", "jurisdiction: got 'mars'"),
        ("jurisdiction: us\nevents: []\ncolour: red", "unknown key 'colour'"),
        ("jurisdiction: us\nmethod: best\nevents: []", "method: got 'best'"),
        (
            "jurisdiction: us\nevents:\n  - {time: 2024-01-01, kind: buy, asset: E, amount: '1', value: '1'}",
            "event at position 1: id: missing",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: b1, time: 2024-01-01, kind: buy, asset: E, amount: 1.5, value: '1'}",
            "event 'b1' (position 1): amount: got 1.5",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: b1, time: 2024-01-01, kind: buy, asset: E, amount: '1'}",
            "value: missing",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: b1, time: 2024-01-01, kind: buy, asset: E, amount: '-1', value: '1'}",
            "expected an amount above zero",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: t1, time: 2024-01-01, kind: transfer, asset: E, amount: '1', value: '1', to_wallet: x}",
            "a transfer has no value",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: t1, time: 2024-01-01, kind: transfer, asset: E, amount: '1'}",
            "to_wallet: missing",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: b1, time: yesterday, kind: buy, asset: E, amount: '1', value: '1'}",
            "time: got 'yesterday'",
        ),
        (
            "jurisdiction: us\nevents:\n  - {id: b1, time: 2024-01-01, kind: buy, asset: E, amount: '1', value: 'x'}",
            "value: got 'x'",
        ),
    ],
)
def test_malformed_files_are_refused_with_where_and_what(body: str, fragment: str) -> None:
    with pytest.raises(MalformedBasisFile) as caught:
        parse_basis_file(body)
    assert fragment in str(caught.value)


def test_unknown_kind_error_carries_its_fields() -> None:
    with pytest.raises(UnknownEventKind) as caught:
        parse_basis_file(
            "jurisdiction: uk\nevents:\n  - {id: x1, time: 2024-01-01, kind: mint, asset: E, amount: '1'}"
        )
    assert (caught.value.kind, caught.value.where) == ("mint", "event 'x1' (position 1)")


def test_amounts_are_exact_at_each_assets_own_scale() -> None:
    basis = parse_basis_file("""
jurisdiction: generic
events:
  - {id: b1, time: "2024-01-01T10:30:00+02:00", kind: buy, asset: ETH, amount: "1.000000000000000001", value: "3000.10"}
  - {id: b2, time: 2024-01-02, kind: buy, asset: USDC, amount: "10", value: "10"}
  - {id: x1, time: 2024-01-03, kind: send, asset: USDC, amount: "2.5", taxable: false}
""")
    assert basis.decimals == {"ETH": 18, "USDC": 1}
    assert [e.amount_raw for e in basis.events] == [10**18 + 1, 100, 25]
    assert basis.events[0].time.isoformat() == "2024-01-01T08:30:00+00:00"
    assert basis.events[2].action.value == "withdraw"
