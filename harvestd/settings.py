"""harvestd's settings: one YAML file validated into frozen pydantic models.

`load_settings(path)` is the only entry point that reads a file. It returns a `Settings`
or raises a `ConfigError` that lists *every* problem found, each naming the dotted key,
the YAML line, the value and what is expected. Nothing here prints, logs or exits.

The tree (every model is frozen, `extra="forbid"`):

    Settings
    ├── database: DatabaseSettings        url (SQLite file by default; Postgres works the same)
    ├── owner: OwnerSettings              jurisdiction, lot method, wash sale, tax rates, ...
    │   └── tax_rates: TaxRates
    ├── chains: tuple[ChainSettings]      RPC, confirmations, block ranges, numeraire
    │   ├── wallets: tuple[WalletSettings]
    │   ├── tokens: tuple[TokenSettings]
    │   │   └── pricing: tuple[UniswapV2Pricing | UniswapV3Pricing | ChainlinkPricing]
    │   └── dex: DexSettings | None
    ├── strategy: StrategySettings        schedule, proposal expiry
    │   ├── harvest: HarvestSettings
    │   └── rebalance: RebalanceSettings
    │       └── bands: BandSettings (default + per_asset: Band)
    ├── execution: ExecutionSettings      mode, guards, key: EnvKeySource | KeystoreKeySource
    ├── server: ServerSettings            host, port, health: HealthSettings
    ├── jobs: JobsSettings                scheduler intervals and restart backoff
    └── logging: LoggingSettings          level, format

Exactness: no float is ever created. The YAML loader turns unquoted numbers with a
fraction into a `Decimal` from their exact source text; money fields (`*_usd`, `*_gwei`)
go further and refuse an unquoted fractional number, asking for a quoted string
(`min_loss_usd: "0.10"`), while ratios (`0.25`) are accepted exactly. See
`harvestd.settings_types`.

Secrets: RPC URLs and the database URL are `SecretStr` (they may carry credentials). A
credential written inline in the YAML (user-info, an API key in the path or query, a
private key anywhere) is an error naming the key; it must come from `${ENV_VAR}`. The
signing key is never in the file: `execution.key` names an environment variable or a
keystore file (`harvestd.settings_keys.load_signing_key` reads it).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harvestd.errors import ConfigFileUnreadable, ConfigInvalid
from harvestd.settings_problems import (
    FIELD_PROBLEMS,
    collect_raw_problems,
    finalise_problems,
    translate_validation_error,
)
from harvestd.settings_secrets import url_credentials
from harvestd.settings_types import (
    EnvVarName,
    EvmAddress,
    ExecutionMode,
    Gwei,
    Jurisdiction,
    LogFormat,
    LogLevel,
    LotMethod,
    MonthDay,
    MonthDayField,
    Name,
    PricingKind,
    Ratio,
    RebalanceMode,
    Reentry,
    Symbol,
    Usd,
)
from harvestd.settings_yaml import read_yaml
from ledger.ids import Address, ChainId

__all__ = [
    "Band",
    "BandSettings",
    "ChainSettings",
    "ChainlinkPricing",
    "DatabaseSettings",
    "DexSettings",
    "EnvKeySource",
    "ExecutionMode",
    "ExecutionSettings",
    "HarvestSettings",
    "HealthSettings",
    "JobsSettings",
    "Jurisdiction",
    "KeySource",
    "KeystoreKeySource",
    "LogFormat",
    "LogLevel",
    "LoggingSettings",
    "LotMethod",
    "MonthDay",
    "OwnerSettings",
    "PricingKind",
    "PricingSource",
    "RebalanceMode",
    "RebalanceSettings",
    "Reentry",
    "ServerSettings",
    "Settings",
    "StrategySettings",
    "TaxRates",
    "TokenSettings",
    "UniswapV2Pricing",
    "UniswapV3Pricing",
    "WalletSettings",
    "load_settings",
    "validate_settings",
]

DEFAULT_DATABASE_URL: Final = "sqlite:///harvestd.db"


class _FieldChecks:
    """Problems a model-level check found, each naming a field path below that model.

    Raised as one `PydanticCustomError` whose context carries the list; the translator in
    `harvestd.settings_problems` expands it into one problem per field, so cross-field
    rules still point at the exact key and line.
    """

    def __init__(self) -> None:
        self.found: list[tuple[tuple[str | int, ...], object, str]] = []

    def add(self, path: tuple[str | int, ...], value: object, expected: str) -> None:
        self.found.append((path, value, expected))

    def raise_if_any(self) -> None:
        if self.found:
            raise PydanticCustomError(
                FIELD_PROBLEMS,
                "{count} field problem(s)",
                {"count": len(self.found), "fields": tuple(self.found)},
            )


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return info.context if isinstance(info.context, Mapping) else {}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# ----------------------------------------------------------------------------- database


class DatabaseSettings(_Model):
    """Where the ledger is stored."""

    url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL),
        description=(
            "a database URL: sqlite:///FILE (relative to the config file's directory) or "
            "postgresql://USER@HOST/DB"
        ),
    )

    @field_validator("url", mode="after")
    @classmethod
    def _normalise_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        base_dir = _context(info).get("base_dir")
        return SecretStr(normalise_database_url(value.get_secret_value(), base_dir))


def normalise_database_url(url: str, base_dir: Path | None) -> str:
    """A SQLAlchemy URL for `url`: relative SQLite paths made absolute, Postgres on psycopg 3.

    Raises:
        PydanticCustomError: the scheme is neither SQLite nor Postgres (psycopg 3).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise PydanticCustomError("database_url", "a URL such as sqlite:///harvestd.db")
    scheme = scheme.lower()
    if scheme in ("sqlite", "sqlite+pysqlite"):
        if rest in ("", "/", "/:memory:"):
            return url
        if not rest.startswith("/"):
            raise PydanticCustomError("database_url", "sqlite:///FILE (three slashes)")
        file_part = rest[1:]
        if file_part.startswith("/") or base_dir is None:
            return url
        return f"{scheme}:///{(Path(base_dir) / file_part).resolve()}"
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise PydanticCustomError(
        "database_url",
        "a sqlite:/// or postgresql:// URL (Postgres is reached through psycopg 3)",
    )


# -------------------------------------------------------------------------------- owner


class TaxRates(_Model):
    """Marginal tax rates (0.37 = 37%) used to value what a realised gain or loss is worth."""

    short_term: Ratio | None = Field(default=None, ge=0, le=1)
    long_term: Ratio | None = Field(default=None, ge=0, le=1)
    flat: Ratio | None = Field(default=None, ge=0, le=1)


_REQUIRED_RATES: Final[Mapping[Jurisdiction, tuple[str, ...]]] = {
    Jurisdiction.US: ("short_term", "long_term"),
    Jurisdiction.DE: ("short_term",),
    Jurisdiction.UK: ("flat",),
    Jurisdiction.CA: ("flat",),
    Jurisdiction.GENERIC: ("flat",),
}


class OwnerSettings(_Model):
    """The tax entity that owns every configured wallet, and its rules."""

    jurisdiction: Jurisdiction = Field(description="one of us, uk, de, ca, generic")
    method: LotMethod = LotMethod.FIFO
    wash_sale: bool = False
    long_term_after_days: int | None = Field(default=None, ge=1, le=36_600)
    tax_rates: TaxRates = Field(description="a mapping of rates (short_term, long_term, flat)")
    annual_loss_limit_usd: Usd = Field(default=Decimal(3000), ge=0)
    loss_carryforward_usd: Usd = Field(default=Decimal(0), ge=0)
    tax_year_start: MonthDayField = Field(default=MonthDay(1, 1))

    @model_validator(mode="before")
    @classmethod
    def _default_tax_year(cls, value: object) -> object:
        # The UK tax year starts on 6 April; every other jurisdiction here on 1 January.
        if (
            isinstance(value, dict)
            and "tax_year_start" not in value
            and value.get("jurisdiction") == Jurisdiction.UK.value
        ):
            return {**value, "tax_year_start": "04-06"}
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> OwnerSettings:
        checks = _FieldChecks()
        if self.wash_sale and self.jurisdiction is not Jurisdiction.US:
            checks.add(
                ("wash_sale",), True, "false: the wash-sale rule applies to jurisdiction us only"
            )
        if self.jurisdiction is Jurisdiction.DE and self.method is not LotMethod.FIFO:
            checks.add(("method",), self.method.value, "fifo: Germany requires first in, first out")
        for rate in _REQUIRED_RATES[self.jurisdiction]:
            if getattr(self.tax_rates, rate) is None:
                checks.add(
                    ("tax_rates", rate),
                    None,
                    f"missing, expected a rate between 0 and 1 (required for jurisdiction {self.jurisdiction.value})",
                )
        checks.raise_if_any()
        return self


# ------------------------------------------------------------------------------- chains


class WalletSettings(_Model):
    """One of the owner's wallets."""

    label: Name = Field(description="a short wallet label, e.g. main")
    address: EvmAddress = Field(description="an EIP-55 checksummed address")


class UniswapV2Pricing(_Model):
    """Price from a Uniswap V2 pair's reserves (its `Sync` logs)."""

    source: Literal["uniswap_v2"]
    pool: EvmAddress = Field(description="the pair's address")
    quote: Symbol = Field(description="the symbol of the pair's other token")
    twap_seconds: int = Field(default=0, ge=0, le=86_400)

    @property
    def kind(self) -> PricingKind:
        """This source's kind."""
        return PricingKind.UNISWAP_V2


class UniswapV3Pricing(_Model):
    """Price from a Uniswap V3 pool (its `Swap` logs, or an oracle TWAP when > 0)."""

    source: Literal["uniswap_v3"]
    pool: EvmAddress = Field(description="the pool's address")
    quote: Symbol = Field(description="the symbol of the pool's other token")
    twap_seconds: int = Field(default=0, ge=0, le=86_400)

    @property
    def kind(self) -> PricingKind:
        """This source's kind."""
        return PricingKind.UNISWAP_V3


class ChainlinkPricing(_Model):
    """Price from a Chainlink aggregator feed."""

    source: Literal["chainlink"]
    feed: EvmAddress = Field(description="the aggregator's address")
    quote: Symbol = "USD"
    max_age_seconds: int = Field(default=86_400, ge=1)

    @property
    def kind(self) -> PricingKind:
        """This source's kind."""
        return PricingKind.CHAINLINK


PricingSource = Annotated[
    UniswapV2Pricing | UniswapV3Pricing | ChainlinkPricing, Field(discriminator="source")
]


class TokenSettings(_Model):
    """An ERC-20 token the ledger tracks and how it is priced (first source wins)."""

    symbol: Symbol = Field(description="the token's symbol, e.g. USDC")
    address: EvmAddress = Field(description="an EIP-55 checksummed token address")
    decimals: int | None = Field(default=None, ge=0, le=77)
    pricing: tuple[PricingSource, ...] = ()


class DexSettings(_Model):
    """The AMM contracts quotes and swaps go through on one chain."""

    weth: EvmAddress = Field(description="the wrapped native coin's address")
    uniswap_v2_router: EvmAddress | None = None
    uniswap_v2_factory: EvmAddress | None = None
    uniswap_v3_factory: EvmAddress | None = None
    swap_router: EvmAddress | None = None
    quoter_v2: EvmAddress | None = None

    @model_validator(mode="after")
    def _check_pairs(self) -> DexSettings:
        checks = _FieldChecks()
        if self.swap_router is not None and self.quoter_v2 is None:
            checks.add(
                ("quoter_v2",),
                None,
                "missing, expected an address: V3 swaps through swap_router need it",
            )
        if self.uniswap_v2_router is not None and self.uniswap_v2_factory is None:
            checks.add(
                ("uniswap_v2_factory",),
                None,
                "missing, expected an address: V2 routing needs the pair factory",
            )
        checks.raise_if_any()
        return self

    def routers(self) -> tuple[Address, ...]:
        """Every router configured here (V2 router, V3 swap router)."""
        return tuple(r for r in (self.uniswap_v2_router, self.swap_router) if r is not None)


_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")
_RPC_SCHEMES: Final = frozenset({"http", "https", "ws", "wss"})


def _check_rpc_url(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    parts = urlsplit(value.get_secret_value())
    if parts.scheme.lower() not in _RPC_SCHEMES or not parts.hostname:
        raise PydanticCustomError("rpc_url", "an http(s):// or ws(s):// JSON-RPC URL")
    return value


class ChainSettings(_Model):
    """One EVM chain: how to read it, what to track on it, where to trade on it."""

    name: Name = Field(description="a short chain name, e.g. mainnet")
    chain_id: ChainId = Field(ge=1, description="the chain id, e.g. 1")
    rpc_url: SecretStr = Field(description="a JSON-RPC URL, e.g. ${MAINNET_RPC_URL}")
    send_rpc_url: SecretStr | None = None
    confirmations: int = Field(default=12, ge=0, le=10_000)
    start_block: int = Field(default=0, ge=0)
    poll_interval_seconds: int = Field(default=12, ge=1, le=3_600)
    max_block_range: int = Field(default=2_000, ge=1, le=1_000_000)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    native_symbol: Symbol = "ETH"
    numeraire: Symbol = Field(description="the symbol of a configured token, e.g. USDC")
    wallets: tuple[WalletSettings, ...] = Field(
        min_length=1, description="a list of wallets (label, address)"
    )
    tokens: tuple[TokenSettings, ...] = ()
    dex: DexSettings | None = None

    _check_rpc = field_validator("rpc_url", "send_rpc_url", mode="after")(_check_rpc_url)

    @model_validator(mode="after")
    def _check_references(self) -> ChainSettings:
        checks = _FieldChecks()
        symbols = {t.symbol for t in self.tokens}
        if self.numeraire not in symbols:
            checks.add(("numeraire",), self.numeraire, _one_of("a token symbol in tokens", symbols))
        _check_unique(checks, "wallets", "label", [w.label for w in self.wallets])
        _check_unique(checks, "wallets", "address", [w.address for w in self.wallets])
        _check_unique(checks, "tokens", "symbol", [t.symbol for t in self.tokens])
        _check_unique(checks, "tokens", "address", [t.address for t in self.tokens])
        for t_index, token in enumerate(self.tokens):
            for p_index, source in enumerate(token.pricing):
                allowed = symbols | ({"USD"} if isinstance(source, ChainlinkPricing) else set())
                if source.quote not in allowed or source.quote == token.symbol:
                    checks.add(
                        ("tokens", t_index, "pricing", p_index, "quote"),
                        source.quote,
                        _one_of("another token symbol in tokens", allowed - {token.symbol}),
                    )
        checks.raise_if_any()
        return self

    def find_token(self, symbol: str) -> TokenSettings | None:
        """The token configured with `symbol`, if any."""
        return next((t for t in self.tokens if t.symbol == symbol), None)

    def wallet_addresses(self) -> tuple[Address, ...]:
        """Every wallet address on this chain, in configured order."""
        return tuple(w.address for w in self.wallets)


def _one_of(what: str, options: set[str]) -> str:
    if not options:
        return f"{what} (none are configured)"
    return f"{what} ({', '.join(sorted(options))})"


def _check_unique(checks: _FieldChecks, section: str, field: str, values: list[Any]) -> None:
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            checks.add((section, index, field), value, f"a {field} not used by another entry")
        seen.add(value)


# ----------------------------------------------------------------------------- strategy


class HarvestSettings(_Model):
    """Loss harvesting: when a lot's loss is worth realising, and where exposure goes."""

    enabled: bool = True
    min_loss_usd: Usd = Field(default=Decimal(100), ge=0)
    min_benefit_usd: Usd = Field(default=Decimal(20), ge=0)
    min_benefit_cost_ratio: Ratio = Field(default=Decimal(2), ge=1)
    substitutes: dict[Symbol, Symbol] = Field(default_factory=dict)
    reentry: Reentry = Reentry.AUTO

    @model_validator(mode="after")
    def _check_substitutes(self) -> HarvestSettings:
        checks = _FieldChecks()
        for asset, substitute in self.substitutes.items():
            if asset == substitute:
                checks.add(("substitutes", asset), substitute, "a different, correlated asset")
        if self.reentry is Reentry.SUBSTITUTE and not self.substitutes:
            checks.add(
                ("substitutes",),
                None,
                "missing, expected at least one substitute when reentry is substitute",
            )
        checks.raise_if_any()
        return self


class Band(_Model):
    """A drift band: breached when |weight - target| > min(absolute, relative x target)."""

    absolute: Ratio | None = Field(default=None, gt=0, le=1)
    relative: Ratio | None = Field(default=None, gt=0, le=10)

    @model_validator(mode="after")
    def _check_some(self) -> Band:
        if self.absolute is None and self.relative is None:
            checks = _FieldChecks()
            checks.add(("absolute",), None, "missing, expected absolute and/or relative")
            checks.raise_if_any()
        return self


class BandSettings(_Model):
    """The default drift band and per-asset replacements."""

    default: Band = Field(
        default_factory=lambda: Band(absolute=Decimal("0.05"), relative=Decimal("0.25"))
    )
    per_asset: dict[Symbol, Band] = Field(default_factory=dict)

    def band_for(self, symbol: str) -> Band:
        """The band that applies to `symbol` (its own, or the default)."""
        return self.per_asset.get(symbol, self.default)


Weight = Annotated[Ratio, Field(gt=0, le=1)]


class RebalanceSettings(_Model):
    """Tax-aware rebalancing towards target weights."""

    enabled: bool = False
    targets: dict[Symbol, Weight] = Field(default_factory=dict)
    bands: BandSettings = Field(default_factory=BandSettings)
    mode: RebalanceMode = RebalanceMode.TARGET
    min_trade_usd: Usd = Field(default=Decimal(50), ge=0)

    @model_validator(mode="after")
    def _check_targets(self) -> RebalanceSettings:
        checks = _FieldChecks()
        if self.enabled and not self.targets:
            checks.add(
                ("targets",), None, "missing, expected target weights when rebalancing is enabled"
            )
        total = sum(self.targets.values(), Decimal(0))
        if self.targets and total != 1:
            checks.add(("targets",), None, f"weights must sum to exactly 1; they sum to {total}")
        for symbol in self.bands.per_asset:
            if symbol not in self.targets:
                checks.add(
                    ("bands", "per_asset", symbol),
                    symbol,
                    _one_of("a target asset", set(self.targets)),
                )
        checks.raise_if_any()
        return self


def _check_cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise PydanticCustomError(
            "cron", "a 5-field cron expression, e.g. '0 * * * *' ({reason})", {"reason": str(exc)}
        ) from exc
    return value


class StrategySettings(_Model):
    """When the strategy runs and what it may propose."""

    schedule: str = "0 * * * *"
    proposal_expiry_seconds: int = Field(default=900, ge=60, le=7 * 86_400)
    harvest: HarvestSettings = Field(default_factory=HarvestSettings)
    rebalance: RebalanceSettings = Field(default_factory=RebalanceSettings)

    _cron = field_validator("schedule", mode="after")(_check_cron)


# ---------------------------------------------------------------------------- execution


class EnvKeySource(_Model):
    """The signing key is the hex private key in an environment variable."""

    env: EnvVarName = Field(description="the name of the environment variable holding the key")


class KeystoreKeySource(_Model):
    """The signing key is in an encrypted JSON keystore; its password in an env variable."""

    keystore: Path = Field(description="a keystore file path (relative to the config file)")
    password_env: EnvVarName = Field(description="the environment variable holding the password")

    @field_validator("keystore", mode="after")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        base_dir = _context(info).get("base_dir")
        if not value.is_absolute() and base_dir is not None:
            value = (Path(base_dir) / value).resolve()
        if not value.is_file():
            raise PydanticCustomError("keystore_missing", "an existing keystore file")
        return value


def _key_source_tag(value: object) -> str:
    if isinstance(value, KeystoreKeySource) or (isinstance(value, dict) and "keystore" in value):
        return "keystore_key"
    return "env_key"


KeySource = Annotated[
    Annotated[EnvKeySource, Tag("env_key")] | Annotated[KeystoreKeySource, Tag("keystore_key")],
    Discriminator(_key_source_tag),
]


class ExecutionSettings(_Model):
    """Whether and how proposals are executed, and the guards every trade must pass."""

    mode: ExecutionMode = ExecutionMode.DRY_RUN
    auto_approve: bool = False
    max_slippage_bps: int = Field(default=50, ge=0, le=10_000)
    max_price_impact_bps: int = Field(default=100, ge=0, le=10_000)
    max_fee_per_gas_gwei: Gwei = Field(default=Decimal(100), gt=0)
    max_priority_fee_gwei: Gwei = Field(default=Decimal(2), ge=0)
    max_gas_share_bps: int = Field(default=100, ge=0, le=10_000)
    max_trade_usd: Usd = Field(default=Decimal(10_000), gt=0)
    max_daily_usd: Usd = Field(default=Decimal(50_000), gt=0)
    allowed_tokens: tuple[Symbol, ...] | None = None
    allowed_routers: tuple[EvmAddress, ...] | None = None
    quote_max_age_blocks: int = Field(default=2, ge=0, le=100)
    deadline_seconds: int = Field(default=120, ge=1, le=300)
    receipt_timeout_seconds: int = Field(default=300, ge=10, le=86_400)
    replace_after_seconds: int = Field(default=60, ge=5, le=86_400)
    fee_bump_percent: int = Field(default=12, ge=10, le=100)
    key: KeySource | None = None

    @model_validator(mode="after")
    def _check_guards(self, info: ValidationInfo) -> ExecutionSettings:
        checks = _FieldChecks()
        if self.mode is ExecutionMode.LIVE:
            if self.key is None:
                checks.add(
                    ("key",),
                    None,
                    "missing, expected a key source in live mode: {env: VAR} or {keystore: FILE, password_env: VAR}",
                )
            else:
                environ = _context(info).get("environ", {})
                var = self.key.env if isinstance(self.key, EnvKeySource) else self.key.password_env
                field = "env" if isinstance(self.key, EnvKeySource) else "password_env"
                if not environ.get(var):
                    checks.add(
                        ("key", field),
                        var,
                        f"the environment variable {var} to be set in live mode",
                    )
        if self.max_priority_fee_gwei > self.max_fee_per_gas_gwei:
            checks.add(
                ("max_priority_fee_gwei",),
                str(self.max_priority_fee_gwei),
                f"a value <= max_fee_per_gas_gwei ({self.max_fee_per_gas_gwei})",
            )
        if self.max_daily_usd < self.max_trade_usd:
            checks.add(
                ("max_daily_usd",),
                str(self.max_daily_usd),
                f"a value >= max_trade_usd ({self.max_trade_usd})",
            )
        if self.replace_after_seconds >= self.receipt_timeout_seconds:
            checks.add(
                ("replace_after_seconds",),
                self.replace_after_seconds,
                f"a value < receipt_timeout_seconds ({self.receipt_timeout_seconds})",
            )
        checks.raise_if_any()
        return self

    @property
    def is_live(self) -> bool:
        """Whether trades are signed and sent."""
        return self.mode is ExecutionMode.LIVE


# ------------------------------------------------------------------- server, jobs, logs


class HealthSettings(_Model):
    """When the health endpoint reports the daemon unhealthy."""

    max_lag_blocks: int = Field(default=20, ge=0)
    max_staleness_seconds: int = Field(default=600, ge=1)


class ServerSettings(_Model):
    """The HTTP server for /health and /metrics; loopback unless a host is written."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=1, le=65_535)
    health: HealthSettings = Field(default_factory=HealthSettings)

    @field_validator("host", mode="after")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not (_is_ip(value) or _HOSTNAME_RE.fullmatch(value)):
            raise PydanticCustomError("host", "an IP address or host name, e.g. 127.0.0.1")
        return value

    @property
    def is_loopback(self) -> bool:
        """Whether the server listens on the loopback interface only."""
        if self.host == "localhost":
            return True
        return _is_ip(self.host) and ipaddress.ip_address(self.host.strip("[]")).is_loopback


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


class JobsSettings(_Model):
    """How often the daemon's periodic jobs run, and how a failed job is restarted."""

    execute_interval_seconds: int = Field(default=30, ge=1)
    expire_interval_seconds: int = Field(default=60, ge=1)
    valuation_interval_seconds: int = Field(default=900, ge=1)
    restart_backoff_seconds: int = Field(default=5, ge=1)
    max_restart_backoff_seconds: int = Field(default=300, ge=1)


class LoggingSettings(_Model):
    """Log level and line format (see harvestd.logs)."""

    level: LogLevel = LogLevel.INFO
    format: LogFormat = LogFormat.AUTO


# ------------------------------------------------------------------------------- root


class Settings(_Model):
    """Everything harvestd is configured with; built by `load_settings`."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    owner: OwnerSettings = Field(description="a mapping: jurisdiction, method, tax_rates, ...")
    chains: tuple[ChainSettings, ...] = Field(
        min_length=1, description="a list of chains (name, chain_id, rpc_url, wallets, ...)"
    )
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="before")
    @classmethod
    def _database_from_context(cls, value: object) -> object:
        # Validate the default from a mapping so the SQLite path is anchored at the file.
        if isinstance(value, dict) and "database" not in value:
            return {**value, "database": {}}
        return value

    @model_validator(mode="after")
    def _check_chains(self) -> Settings:
        checks = _FieldChecks()
        _check_unique(checks, "chains", "chain_id", [c.chain_id for c in self.chains])
        _check_unique(checks, "chains", "name", [c.name for c in self.chains])
        checks.raise_if_any()
        return self

    def find_chain(self, chain_id: int) -> ChainSettings | None:
        """The chain configured with `chain_id`, if any."""
        return next((c for c in self.chains if c.chain_id == chain_id), None)

    def known_symbols(self) -> frozenset[str]:
        """Every token symbol configured on any chain, plus the native coins' symbols."""
        found: set[str] = set()
        for chain in self.chains:
            found.add(chain.native_symbol)
            found.update(t.symbol for t in chain.tokens)
        return frozenset(found)

    def secret_values(self) -> tuple[str, ...]:
        """Credential strings to register with the log redactor (URL user-info, API keys).

        Whole URLs are included only when they carry credentials, so a plain local RPC URL
        stays readable in the logs.
        """
        found: list[str] = []
        database = urlsplit(self.database.url.get_secret_value())
        if database.password:
            found.extend([self.database.url.get_secret_value(), database.password])
        urls: list[str] = []
        for chain in self.chains:
            urls.append(chain.rpc_url.get_secret_value())
            if chain.send_rpc_url is not None:
                urls.append(chain.send_rpc_url.get_secret_value())
        for url in urls:
            parts = url_credentials(url)
            if parts:
                found.append(url)
                found.extend(parts)
        return tuple(dict.fromkeys(found))


# ------------------------------------------------------------------------------ loading


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, interpolate and validate the YAML settings file at `path`.

    `environ` (default `os.environ`) supplies `${VAR}` values and is checked for the
    signing-key variables in live mode. Relative paths in the file (SQLite database,
    keystore) are taken relative to the file's directory.

    Raises:
        ConfigFileUnreadable: the file is missing, unreadable, or not a YAML mapping.
        ConfigInvalid: the file breaks the schema; `problems` lists every problem found.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileUnreadable(path, "an existing configuration file; none found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileUnreadable(path, f"a readable UTF-8 text file ({exc})") from exc
    return validate_settings(text, path, os.environ if environ is None else environ)


def validate_settings(text: str, path: Path, environ: Mapping[str, str]) -> Settings:
    """Validate YAML `text` as if read from `path` (whose directory anchors relative paths).

    Raises:
        ConfigFileUnreadable: the text is not a YAML mapping.
        ConfigInvalid: the text breaks the schema; `problems` lists every problem found.
    """
    doc = read_yaml(text, path, environ)
    problems = collect_raw_problems(doc)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(
            doc.root, context={"base_dir": path.parent.resolve(), "environ": environ}
        )
    except ValidationError as exc:
        problems.extend(translate_validation_error(exc, doc, Settings))
    final = finalise_problems(problems, doc)
    if final or settings is None:
        raise ConfigInvalid(path, final)
    return settings
