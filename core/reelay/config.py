"""The gateway's configuration: one TOML file, checked before the server starts.

``${NAME}`` in any string is replaced from the environment; a missing
variable is an error naming it. Every error names its key path.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import frozen

from .models import Channel, NormalizationPolicy, Token
from .plugins import Registry
from .store import open_store


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` are ``key.path: reason`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@frozen
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    max_body_mb: float = 32.0


@frozen
class StoreConfig:
    """Where tasks and finished videos live.

    With ``keep_results`` each finished video up to ``max_result_mb`` is
    copied into ``results_dir`` when the poller sees it complete, because
    vendors' download links expire; larger ones are relayed from the vendor.
    Files there older than ``keep_days`` are removed (0: kept until their
    task is deleted).
    """

    url: str = "sqlite:///reelay.db"
    results_dir: str = "reelay-results"
    keep_results: bool = True
    max_result_mb: float = attrs.field(default=1024.0, validator=attrs.validators.gt(0))
    keep_days: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))


@frozen
class PollerConfig:
    """When and how hard the background poller asks vendors.

    The first poll comes a quarter of the model's typical time after
    submission; later ones every tenth of it, clamped to
    ``[min_interval, max_interval]`` seconds, with backoff on failures.
    """

    enabled: bool = True
    min_interval: float = 2.0
    max_interval: float = 30.0
    timeout_seconds: float = 3600.0
    lease_seconds: float = 60.0
    batch: int = 256


@frozen
class GatewayConfig:
    normalization: NormalizationPolicy = NormalizationPolicy.SNAP


@frozen
class LoggingConfig:
    format: str = attrs.field(default="json")
    level: str = "info"

    @format.validator
    def _check_format(self, _: Any, value: str) -> None:
        if value not in ("console", "json"):
            raise ValueError("expected console or json")


@frozen
class BillingConfig:
    """``currency`` labels every amount; amounts are decimals, never floats."""

    currency: str = "USD"


@frozen
class Price:
    """A public model's price: ``per_second`` of generated video (``sizes`` overrides
    it per effective size) plus a flat ``per_request``."""

    model: str
    per_second: Decimal = Decimal(0)
    per_request: Decimal = Decimal(0)
    sizes: Mapping[str, Decimal] = attrs.field(factory=dict)


@frozen
class Config:
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    poller: PollerConfig = PollerConfig()
    gateway: GatewayConfig = GatewayConfig()
    logging: LoggingConfig = LoggingConfig()
    tokens: tuple[Token, ...] = ()
    channels: tuple[Channel, ...] = ()
    billing: BillingConfig = BillingConfig()
    prices: tuple[Price, ...] = ()

    def policy_for(self, channel: Channel) -> NormalizationPolicy:
        return channel.normalization or self.gateway.normalization


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# ---------------------------------------------------------------- loading

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_converter = cattrs.Converter(forbid_extra_keys=True)

_CHANNEL_KEYS = {
    "name",
    "vendor",
    "base_url",
    "groups",
    "models",
    "priority",
    "weight",
    "model_map",
    "credentials",
    "options",
    "normalization",
    "typical_seconds",
    "max_concurrency",
}


def _strict(kind: type, name: str):
    def hook(value: Any, target: type) -> Any:
        if isinstance(target, type) and issubclass(target, enum.Enum):
            return _enum(value, target)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise TypeError(f"expected {name}")
        return value

    return hook


def _enum(value: Any, kind: type[enum.Enum]) -> enum.Enum:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"expected one of {', '.join(str(member.value) for member in kind)}") from None


_converter.register_structure_hook(str, _strict(str, "a string"))
_converter.register_structure_hook(int, _strict(int, "an integer"))
_converter.register_structure_hook(float, _strict(float, "a number"))
_converter.register_structure_hook(bool, _strict(bool, "true or false"))


#: Money is exact to a millionth (what the store keeps, see reelay.store.ledger).
MONEY_PLACES = 6


def parse_money(value: Any, *, negative: bool = False) -> Decimal:
    """A Decimal from a string or a TOML number (floats through their shortest text, so 0.07 is 0.07).

    :raises ValueError: not a finite amount, negative (unless ``negative``), or finer than a millionth.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('expected an amount (a string such as "0.07", or a number)')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected an amount, not {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"expected a finite amount, not {value!r}")
    if amount < 0 and not negative:
        raise ValueError("must not be negative")
    if amount != amount.quantize(Decimal(1).scaleb(-MONEY_PLACES)):
        raise ValueError(f"at most {MONEY_PLACES} decimal places")
    return amount


def _decimal(value: Any, _: type) -> Decimal:
    return parse_money(value)


def _price(value: Any, _: type) -> Price:
    if not isinstance(value, dict):
        raise TypeError("expected a table")
    unknown = set(value) - {"model", "per_second", "per_request", "sizes"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    model = value.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("model: required")
    amounts = {}
    for key in ("per_second", "per_request"):
        try:
            amounts[key] = parse_money(value.get(key, "0"))
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from None
    sizes = value.get("sizes", {})
    if not isinstance(sizes, dict):
        raise ValueError("sizes: expected a table of size = price per second")
    parsed = {}
    for size, amount in sizes.items():
        try:
            parsed[size] = parse_money(amount)
        except ValueError as error:
            raise ValueError(f"sizes.{size}: {error}") from None
    return Price(model=model, sizes=parsed, **amounts)


def _token(value: Any, _: type) -> Token:
    if not isinstance(value, dict):
        raise TypeError("expected a table")
    unknown = set(value) - {"name", "key", "key_sha256", "group", "quota", "max_in_flight"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name: required")
    key, digest = value.get("key"), value.get("key_sha256")
    if (key is None) == (digest is None):
        raise ValueError("give exactly one of key or key_sha256")
    if key is not None:
        if not isinstance(key, str) or len(key) < 8:
            raise ValueError("key: must be a string of at least 8 characters")
        digest = hash_key(key)
    elif not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise ValueError("key_sha256: must be 64 lowercase hex digits")
    group = value.get("group", "default")
    if not isinstance(group, str):
        raise ValueError("group: expected a string")
    quota = None
    if value.get("quota") is not None:
        try:
            quota = parse_money(value["quota"])
        except ValueError as error:
            raise ValueError(f"quota: {error}") from None
    in_flight = value.get("max_in_flight")
    if in_flight is not None and (isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1):
        raise ValueError("max_in_flight: expected a whole number, at least 1")
    return Token(name=name, key_sha256=digest, group=group, quota=quota, max_in_flight=in_flight)


def _channel(value: Any, _: type) -> Channel:
    if not isinstance(value, dict):
        raise TypeError("expected a table")
    known = {key: value[key] for key in value if key in _CHANNEL_KEYS}
    # Keys outside the core's set are vendor options; validate() checks them
    # against what the vendor declares.
    options = dict(known.pop("options", {}) or {})
    options.update({key: value[key] for key in value if key not in _CHANNEL_KEYS})
    for required in ("name", "vendor"):
        if not isinstance(known.get(required), str) or not known[required]:
            raise ValueError(f"{required}: required")
    credentials = known.get("credentials", {})
    if not isinstance(credentials, dict) or not all(isinstance(v, str) for v in credentials.values()):
        raise ValueError("credentials: expected a table of strings")
    groups = known.get("groups", ["default"])
    models = known.get("models", [])
    for key, items in (("groups", groups), ("models", models)):
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValueError(f"{key}: expected an array of strings")
    model_map = known.get("model_map", {})
    if not isinstance(model_map, dict) or not all(isinstance(v, str) for v in model_map.values()):
        raise ValueError("model_map: expected a table of strings")
    numbers = {}
    for key, kind, default in (
        ("priority", int, 0),
        ("weight", int, 1),
        ("max_concurrency", int, 16),
        ("typical_seconds", float, None),
    ):
        raw = known.get(key, default)
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
            raise ValueError(f"{key}: expected a number")
        numbers[key] = kind(raw) if raw is not None else None
    if numbers["weight"] < 0 or numbers["max_concurrency"] < 1:
        raise ValueError("weight must be >= 0 and max_concurrency >= 1")
    normalization = known.get("normalization")
    if normalization is not None and normalization not in NormalizationPolicy.__members__.values():
        raise ValueError(f"normalization: expected one of {', '.join(p.value for p in NormalizationPolicy)}")
    return Channel(
        name=known["name"],
        vendor=known["vendor"],
        base_url=known.get("base_url", ""),
        groups=tuple(groups),
        models=tuple(models),
        priority=numbers["priority"],
        weight=numbers["weight"],
        model_map=model_map,
        credentials=credentials,
        options=options,
        normalization=NormalizationPolicy(normalization) if normalization else None,
        typical_seconds=numbers["typical_seconds"],
        max_concurrency=numbers["max_concurrency"],
    )


_converter.register_structure_hook(Token, _token)
_converter.register_structure_hook(Price, _price)
_converter.register_structure_hook(Decimal, _decimal)
_converter.register_structure_hook(Channel, _channel)


def substitute_env(value: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace ``${NAME}`` in every string of a parsed TOML document."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError([f"{path or 'config'}: environment variable {name} is not set"])
            return environ[name]

        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {key: substitute_env(item, environ, f"{path}.{key}" if path else key) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, environ, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def parse_config(document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """A :class:`Config` from a parsed TOML document."""
    data = substitute_env(dict(document), os.environ if environ is None else environ)
    try:
        return _converter.structure(data, Config)
    except cattrs.ClassValidationError as error:
        lines = cattrs.transform_error(error, path="", format_exception=_describe)
        raise ConfigError([_readable(line) for line in lines]) from None


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, TypeError | ValueError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return cattrs.v.format_exception(exc, type_)


def _readable(line: str) -> str:
    # cattrs says "reason @ .channels[0].weight"; we say "channels[0].weight: reason".
    reason, _, where = line.rpartition(" @ ")
    where = where.lstrip("$").lstrip(".") or "config"
    reason = reason.replace("invalid value for type, ", "").replace("extra fields found ", "unknown keys ")
    return f"{where}: {reason}"


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML ({error})"]) from None
    return parse_config(document, environ)


def validate(config: Config, registry: Registry, pm: Any = None) -> list[str]:
    """Problems that need the installed plugins to see, as ``key.path: reason`` lines.

    With the plugin manager ``pm``, each vendor's own channel checks
    (``reelay_validate_channel``) are included.
    """
    problems = []
    try:
        open_store(config.store.url)  # reads the URL and finds the driver; connects to nothing
    except (ValueError, ImportError) as error:
        problems.append(f"store.url: {error}")
    seen_tokens: set[str] = set()
    token_names: set[str] = set()
    for index, token in enumerate(config.tokens):
        if token.key_sha256 in seen_tokens:
            problems.append(f"tokens[{index}]: the same key is configured twice")
        seen_tokens.add(token.key_sha256)
        if token.quota is not None and token.name in token_names:
            problems.append(f"tokens[{index}].quota: token name {token.name!r} is used twice; a quota needs one name")
        token_names.add(token.name)
    priced: set[str] = set()
    for index, price in enumerate(config.prices):
        if registry.model(price.model) is None:
            problems.append(f"prices[{index}].model: {price.model!r} is not a registered model")
        elif registry.model(price.model).name != price.model:
            problems.append(f"prices[{index}].model: {price.model!r} is an alias; price the model's own name")
        if price.model in priced:
            problems.append(f"prices[{index}].model: {price.model!r} is priced twice")
        priced.add(price.model)
    names: set[str] = set()
    for index, channel in enumerate(config.channels):
        where = f"channels[{index}]"
        if channel.name in names:
            problems.append(f"{where}.name: {channel.name!r} is used twice")
        names.add(channel.name)
        vendor = registry.vendors.get(channel.vendor)
        if vendor is None:
            installed = ", ".join(sorted(registry.vendors)) or "none"
            problems.append(f"{where}.vendor: no installed plugin provides {channel.vendor!r} (installed: {installed})")
            continue
        if not (channel.base_url or vendor.default_base_url):
            problems.append(f"{where}.base_url: required for vendor {vendor.name!r}")
        for credential in vendor.credentials:
            if credential.required and not channel.credentials.get(credential.name):
                problems.append(f"{where}.credentials.{credential.name}: required by vendor {vendor.name!r}")
        declared = {credential.name for credential in vendor.credentials}
        for key in channel.credentials:
            if key not in declared:
                problems.append(f"{where}.credentials.{key}: not a credential of vendor {vendor.name!r}")
        for key in channel.options:
            if key not in vendor.options:
                choices = ", ".join(sorted(vendor.options)) or "none"
                problems.append(f"{where}.{key}: unknown key (vendor {vendor.name!r} options: {choices})")
        for model_name in channel.models:
            model = registry.model(model_name)
            if model is None or model.vendor != vendor.name:
                problems.append(f"{where}.models: {model_name!r} is not a model of vendor {vendor.name!r}")
        for model_name in channel.model_map:
            if registry.model(model_name) is None:
                problems.append(f"{where}.model_map: {model_name!r} is not a registered model")
        if pm is not None:
            for answer in pm.hook.reelay_validate_channel(channel=channel, vendor=vendor):
                problems.extend(f"{where}.{problem}" for problem in answer or ())
    return problems
