"""Invalid settings files: each fails with problems naming key, line, value and expectation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from harvestd.errors import ConfigError, ConfigFileUnreadable, ConfigInvalid, ConfigProblem
from harvestd.settings import load_settings, validate_settings

PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

# Line numbers matter: tests point at them.
BASE = """\
owner:
  jurisdiction: us
  method: hifo
  tax_rates:
    short_term: 0.37
    long_term: 0.2
chains:
  - name: local
    chain_id: 31337
    rpc_url: http://127.0.0.1:8545
    numeraire: USDC
    wallets:
      - label: main
        address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    tokens:
      - symbol: USDC
        address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
      - symbol: WETH
        address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
strategy:
  harvest:
    min_loss_usd: 100
  rebalance:
    enabled: true
    targets:
      USDC: 0.5
      WETH: 0.5
execution:
  mode: dry_run
"""


def _problems(
    text: str, tmp_path: Path, environ: Mapping[str, str] | None = None
) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigInvalid) as caught:
        validate_settings(text, tmp_path / "harvestd.yaml", environ or {})
    return caught.value.problems


def _one(problems: tuple[ConfigProblem, ...], key: str) -> ConfigProblem:
    matching = [p for p in problems if p.key == key]
    assert len(matching) == 1, [str(p) for p in problems]
    return matching[0]


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    settings = validate_settings(BASE, tmp_path / "harvestd.yaml", {})
    assert settings.chains[0].numeraire == "USDC"


def test_a_missing_key_is_named_with_what_is_expected(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("    numeraire: USDC\n", ""), tmp_path)
    problem = _one(problems, "chains.0.numeraire")
    assert problem.line == 8  # the chain's entry
    assert problem.value is None
    assert problem.expected.startswith("missing, expected the symbol of a configured token")


def test_a_bad_address_checksum_names_the_address(tmp_path: Path) -> None:
    bad = "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"  # last letter's case flipped
    problems = _problems(BASE.replace("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", bad), tmp_path)
    problem = _one(problems, "chains.0.wallets.0.address")
    assert problem.line == 14
    assert problem.value == bad
    assert "checksum" in problem.expected
    assert str(problem) == (
        f"chains.0.wallets.0.address (line 14): got '{bad}', expected an address whose "
        "EIP-55 checksum is valid; this one fails it (a typo?)"
    )


def test_an_all_lowercase_address_is_refused(tmp_path: Path) -> None:
    lower = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    problems = _problems(
        BASE.replace("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", lower), tmp_path
    )
    assert "carries no checksum" in _one(problems, "chains.0.wallets.0.address").expected


def test_target_weights_must_sum_to_exactly_one(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("      WETH: 0.5\n", "      WETH: 0.45\n"), tmp_path)
    problem = _one(problems, "strategy.rebalance.targets")
    assert problem.line == 25
    assert str(problem) == (
        "strategy.rebalance.targets (line 25): weights must sum to exactly 1; they sum to 0.95"
    )


def test_weights_written_as_tenths_sum_exactly(tmp_path: Path) -> None:
    text = BASE.replace("      USDC: 0.5\n      WETH: 0.5\n", "      USDC: 0.1\n      WETH: 0.9\n")
    text = text.replace("      WETH: 0.9\n", "      WETH: 0.7\n      ETH: 0.2\n")
    settings = validate_settings(text, tmp_path / "harvestd.yaml", {})
    assert sum(settings.strategy.rebalance.targets.values()) == 1


def test_an_unknown_jurisdiction_lists_the_choices(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("jurisdiction: us", "jurisdiction: fr"), tmp_path)
    problem = _one(problems, "owner.jurisdiction")
    assert str(problem) == (
        "owner.jurisdiction (line 2): got 'fr', expected one of 'us', 'uk', 'de', 'ca' or 'generic'"
    )


def test_a_private_key_written_inline_is_an_error_that_does_not_echo_it(tmp_path: Path) -> None:
    text = BASE.replace("  mode: dry_run\n", f'  mode: dry_run\n  key:\n    env: "{PRIVATE_KEY}"\n')
    with pytest.raises(ConfigInvalid) as caught:
        validate_settings(text, tmp_path / "harvestd.yaml", {})
    problem = _one(caught.value.problems, "execution.key.env")
    assert problem.line == 31
    assert "no private key in the file" in problem.expected
    assert PRIVATE_KEY[2:] not in str(caught.value)


def test_rpc_credentials_written_inline_are_an_error(tmp_path: Path) -> None:
    url = "https://eth-mainnet.g.alchemy.com/v2/Xy7pQ2mN8vR4tK1wZ9cB3dF6gH0jL5sA"
    problems = _problems(BASE.replace("http://127.0.0.1:8545", url), tmp_path)
    problem = _one(problems, "chains.0.rpc_url")
    assert problem.line == 10
    assert problem.value == "https://eth-mainnet.g.alchemy.com/v2/***"
    assert "${ENV_VAR}" in problem.expected
    user_info = _problems(
        BASE.replace("http://127.0.0.1:8545", "https://me:hunter2hunter2@node.example"), tmp_path
    )
    assert "hunter2" not in str(_one(user_info, "chains.0.rpc_url"))


def test_credentials_from_the_environment_are_accepted(tmp_path: Path) -> None:
    url = "https://eth-mainnet.g.alchemy.com/v2/Xy7pQ2mN8vR4tK1wZ9cB3dF6gH0jL5sA"
    whole = BASE.replace("http://127.0.0.1:8545", "${RPC_URL}")
    settings = validate_settings(whole, tmp_path / "h.yaml", {"RPC_URL": url})
    assert settings.chains[0].rpc_url.get_secret_value() == url
    part = BASE.replace(
        "http://127.0.0.1:8545", "https://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}"
    )
    settings = validate_settings(
        part, tmp_path / "h.yaml", {"ALCHEMY_KEY": "Xy7pQ2mN8vR4tK1wZ9cB3dF6gH0jL5sA"}
    )
    assert settings.chains[0].rpc_url.get_secret_value() == url
    assert "Xy7pQ2mN8vR4tK1wZ9cB3dF6gH0jL5sA" in settings.secret_values()


def test_a_database_password_written_inline_is_an_error(tmp_path: Path) -> None:
    text = "database:\n  url: postgresql://harvestd:s3cret-pass@db:5432/harvestd\n" + BASE
    problem = _one(_problems(text, tmp_path), "database.url")
    assert problem.line == 2
    assert "s3cret" not in str(problem)


def test_an_unset_environment_variable_is_named(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("http://127.0.0.1:8545", "${MAINNET_RPC_URL}"), tmp_path)
    problem = _one(problems, "chains.0.rpc_url")
    assert str(problem) == (
        "chains.0.rpc_url (line 10): got '${MAINNET_RPC_URL}', expected the environment "
        "variable(s) MAINNET_RPC_URL to be set"
    )


def test_an_unknown_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("    min_loss_usd: 100", "    min_los_usd: 100"), tmp_path)
    problem = _one(problems, "strategy.harvest.min_los_usd")
    assert str(problem) == (
        "strategy.harvest.min_los_usd (line 22): unknown key, did you mean 'min_loss_usd'?"
    )


def test_a_float_where_money_is_expected_asks_for_quotes(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("min_loss_usd: 100", "min_loss_usd: 0.1"), tmp_path)
    problem = _one(problems, "strategy.harvest.min_loss_usd")
    assert problem.line == 22
    assert problem.value == "0.1"
    assert problem.expected.startswith('a quoted decimal string such as "0.1"')
    quoted = validate_settings(
        BASE.replace("min_loss_usd: 100", 'min_loss_usd: "0.1"'), tmp_path / "h.yaml", {}
    )
    assert str(quoted.strategy.harvest.min_loss_usd) == "0.1"


def test_a_negative_amount_names_the_bound(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("min_loss_usd: 100", "min_loss_usd: -5"), tmp_path)
    assert str(_one(problems, "strategy.harvest.min_loss_usd")) == (
        "strategy.harvest.min_loss_usd (line 22): got '-5', expected a value >= 0"
    )


def test_live_mode_without_a_key_source_is_an_error(tmp_path: Path) -> None:
    problems = _problems(BASE.replace("mode: dry_run", "mode: live"), tmp_path)
    problem = _one(problems, "execution.key")
    assert problem.expected.startswith("missing, expected a key source in live mode")
    keyed = BASE.replace("  mode: dry_run\n", "  mode: live\n  key: {env: HARVESTD_KEY}\n")
    unset = _problems(keyed, tmp_path)
    assert "HARVESTD_KEY to be set" in _one(unset, "execution.key.env").expected
    settings = validate_settings(keyed, tmp_path / "h.yaml", {"HARVESTD_KEY": PRIVATE_KEY})
    assert settings.execution.is_live


def test_several_problems_are_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = (
        BASE.replace("jurisdiction: us", "jurisdiction: fr")
        .replace(
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        )
        .replace("      WETH: 0.5\n", "      WETH: 0.6\n")
        .replace("    min_loss_usd: 100", "    min_loss_usd: 12.5")
        .replace("    chain_id: 31337\n", "    chain_id: 31337\n    confirmation: 3\n")
    )
    with pytest.raises(ConfigInvalid) as caught:
        validate_settings(text, tmp_path / "harvestd.yaml", {})
    keys_and_lines = [(p.key, p.line) for p in caught.value.problems]
    assert keys_and_lines == [
        ("owner.jurisdiction", 2),
        ("chains.0.confirmation", 10),
        ("chains.0.tokens.0.address", 18),
        ("strategy.harvest.min_loss_usd", 23),
        ("strategy.rebalance.targets", 26),
    ]
    message = str(caught.value)
    assert message.splitlines()[0].endswith("harvestd.yaml: 5 problems")
    assert "chains.0.confirmation (line 10): unknown key, did you mean 'confirmations'?" in message


def test_a_repeated_key_is_reported_with_both_lines(tmp_path: Path) -> None:
    text = BASE.replace("  method: hifo\n", "  method: hifo\n  method: fifo\n")
    problem = _one(_problems(text, tmp_path), "owner.method")
    assert problem.line == 4
    assert "first on line 3" in problem.expected


def test_cross_references_name_the_unknown_symbol(tmp_path: Path) -> None:
    text = BASE.replace("  harvest:\n", "  harvest:\n    substitutes: {WETH: stETH}\n")
    problem = _one(_problems(text, tmp_path), "strategy.harvest.substitutes.WETH")
    assert problem.value == "stETH"
    assert problem.expected == "a token symbol configured on a chain (ETH, USDC, WETH)"


def test_jurisdiction_rules_point_at_the_field(tmp_path: Path) -> None:
    text = BASE.replace("jurisdiction: us", "jurisdiction: de").replace(
        "  method: hifo\n", "  method: hifo\n  wash_sale: true\n"
    )
    problems = _problems(text, tmp_path)
    assert _one(problems, "owner.method").expected.startswith("fifo")
    assert _one(problems, "owner.wash_sale").line == 4


def test_a_missing_file_and_broken_yaml_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileUnreadable) as missing:
        load_settings(tmp_path / "nope.yaml", {})
    assert "none found" in str(missing.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("owner:\n  jurisdiction: [us\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(broken, {})
    assert caught.value.problems[0].line is not None


def test_pricing_sources_name_their_kinds(tmp_path: Path) -> None:
    pool = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    text = BASE.replace(
        '        address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"\n',
        '        address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"\n'
        f'        pricing: [{{pool: "{pool}", quote: USDC}}, {{source: uniswap_v4, pool: "{pool}"}}]\n',
    )
    problems = _problems(text, tmp_path)
    missing = _one(problems, "chains.0.tokens.1.pricing.0.source")
    assert missing.expected == "missing, expected one of 'uniswap_v2', 'uniswap_v3', 'chainlink'"
    assert _one(problems, "chains.0.tokens.1.pricing.1.source").value == "uniswap_v4"


def test_an_unknown_section_gets_a_did_you_mean(tmp_path: Path) -> None:
    problem = _one(_problems(BASE + "stratgy: {}\n", tmp_path), "stratgy")
    assert problem.expected == "unknown key, did you mean 'strategy'?"
