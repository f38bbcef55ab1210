"""Properties: numbers in YAML stay exact; private-key-shaped hex never survives redaction."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harvestd.logs import SecretRedactor
from harvestd.settings_yaml import YamlNumber, read_yaml

decimals = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=8, allow_nan=False
)


@given(decimals)
def test_an_unquoted_fraction_is_read_exactly(value: Decimal) -> None:
    text = f"{value:f}"
    if "." not in text:
        text += ".0"
    doc = read_yaml(f"x: {text}\n", Path("t.yaml"), {})
    assert isinstance(doc.root, dict)
    read = doc.root["x"]
    assert isinstance(read, YamlNumber)
    assert read == value
    assert read.as_tuple() == Decimal(text).as_tuple()  # same digits and exponent


@given(st.binary(min_size=32, max_size=32), st.text(max_size=20), st.booleans())
def test_private_key_shaped_hex_is_always_redacted(key: bytes, around: str, prefixed: bool) -> None:
    hex_key = ("0x" if prefixed else "") + key.hex()
    redacted = SecretRedactor().redact(f"{around} {hex_key} {around}", key="note")
    assert isinstance(redacted, str)
    assert key.hex() not in redacted
