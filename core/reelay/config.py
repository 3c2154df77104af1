"""The gateway's configuration: one TOML file, checked before the server starts.

``${NAME}`` in any string is replaced from the environment; a missing
variable is an error naming it. Every error names its key path, and every
problem of a file is reported at once: each unset variable, then each
invalid key.
"""

from __future__ import annotations

import base64
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

from .fetch import url_refusal
from .models import Channel, ModelSpec, NormalizationPolicy, Token
from .plugins import Registry, qualified_name
from .store import open_store


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` are ``key.path: reason`` lines.

    ``partial`` is the configuration read with unset variables left as
    ``${NAME}`` when only variables were missing, so later checks
    (:func:`validate`) can still report the file's other problems; else None.
    """

    def __init__(self, problems: list[str], partial: Config | None = None):
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems
        self.partial = partial


@frozen
class ServerConfig:
    """Where the gateway listens, and how long it waits for slow clients.

    A new connection must send its request headers within ``header_timeout``
    seconds, a request's body must arrive within ``body_timeout``, and an
    idle keep-alive connection (or one slow to send its next request) is
    closed after ``keepalive_timeout``. At most ``max_connections`` requests
    run at once in the process (0: unlimited); past it a request is answered
    429 ``too_many_connections`` with ``Retry-After: 1``.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    max_body_mb: float = 32.0
    header_timeout: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    body_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    keepalive_timeout: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    max_connections: int = attrs.field(default=0, validator=attrs.validators.ge(0))


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
class WebhooksConfig:
    """How webhooks reach callers (``[webhooks]``).

    A failed delivery is tried again after ``backoff_seconds``, doubling up to
    ``max_backoff_seconds`` (each wait drawn between half and all of it), for
    ``retry_hours`` after the event; ``concurrency`` deliveries run at once,
    each given ``timeout_seconds``. ``allow_loopback`` lets receivers on
    127.0.0.1 through the address check (tests and demos only).
    """

    allow_loopback: bool = False
    timeout_seconds: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    backoff_seconds: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    max_backoff_seconds: float = attrs.field(default=3600.0, validator=attrs.validators.gt(0))
    retry_hours: float = attrs.field(default=25.0, validator=attrs.validators.gt(0))
    lease_seconds: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))


@frozen
class EventsConfig:
    """The live event stream (``[events]``): a heartbeat comment every
    ``heartbeat_seconds``; on SQLite the task is looked at every ``check_seconds``."""

    heartbeat_seconds: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    check_seconds: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))


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
class MetricsConfig:
    """``GET /metrics`` (Prometheus); with ``token``, only for ``Authorization: Bearer <token>``."""

    enabled: bool = True
    token: str | None = attrs.field(default=None, repr=False)


@frozen
class BreakerConfig:
    """Channel health: after ``failures`` transient failures in a row a channel
    rests ``cooldown_seconds`` (doubling while it keeps failing, at most
    ``max_cooldown_seconds``), then one request probes it."""

    failures: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    cooldown_seconds: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    max_cooldown_seconds: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))


@frozen
class AdminConfig:
    """The admin API (``/admin/...``), present only when ``key`` is set."""

    key: str | None = attrs.field(default=None, repr=False)


@frozen
class ModelAlias:
    """A public model name served by several vendors' models (``[[aliases]]``).

    Each target is a model name (``vendor/model`` where the bare name is
    ambiguous); the alias is routed over every channel serving any target, by
    priority and weight, and each target normalizes the request by its own rules.
    """

    name: str
    targets: tuple[str, ...] = ()
    description: str = ""


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
    """The whole configuration.

    :param models: ``[models]``: which vendor a bare model name means where
        several installed vendors register it (``"gen-9" = "acme"``).
    :param aliases: ``[[aliases]]``: public names served by several vendors' models.
    """

    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    poller: PollerConfig = PollerConfig()
    gateway: GatewayConfig = GatewayConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    breaker: BreakerConfig = BreakerConfig()
    admin: AdminConfig = AdminConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    events: EventsConfig = EventsConfig()
    tokens: tuple[Token, ...] = ()
    channels: tuple[Channel, ...] = ()
    models: Mapping[str, str] = attrs.field(factory=dict)
    aliases: tuple[ModelAlias, ...] = ()
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
    "keys",
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
    unknown = set(value) - {
        "name",
        "key",
        "key_sha256",
        "group",
        "rpm",
        "webhook_url",
        "webhook_secret",
        "quota",
        "max_in_flight",
    }
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
    rpm = value.get("rpm")
    if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1):
        raise ValueError("rpm: expected a whole number of requests a minute, at least 1")
    webhook_url, secret = value.get("webhook_url"), value.get("webhook_secret")
    if webhook_url is not None and not isinstance(webhook_url, str):
        raise ValueError("webhook_url: expected a string")
    if secret is not None and not is_webhook_secret(secret):
        raise ValueError("webhook_secret: expected whsec_ followed by base64 (Standard Webhooks)")
    quota = None
    if value.get("quota") is not None:
        try:
            quota = parse_money(value["quota"])
        except ValueError as error:
            raise ValueError(f"quota: {error}") from None
    in_flight = value.get("max_in_flight")
    if in_flight is not None and (isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1):
        raise ValueError("max_in_flight: expected a whole number, at least 1")
    return Token(
        name=name,
        key_sha256=digest,
        group=group,
        rpm=rpm,
        webhook_url=webhook_url,
        webhook_secret=secret,
        quota=quota,
        max_in_flight=in_flight,
    )


def is_webhook_secret(value: Any) -> bool:
    """Whether ``value`` is a Standard Webhooks secret: ``whsec_`` and base64 of at least 16 bytes."""
    if not isinstance(value, str) or not value.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(value.removeprefix("whsec_"), validate=True)) >= 16
    except ValueError:
        return False


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
    credentials, keys = _channel_keys(known.get("credentials", {}), known.get("keys"))
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
        keys=keys,
        options=options,
        normalization=NormalizationPolicy(normalization) if normalization else None,
        typical_seconds=numbers["typical_seconds"],
        max_concurrency=numbers["max_concurrency"],
    )


def _channel_keys(credentials: Any, keys: Any) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
    """A channel's credentials (its first key's) and, with several keys, every key's.

    Several keys come as ``[[channels.keys]]`` tables, each holding the
    vendor's credentials for one key (shared ones may stay in ``credentials``),
    or as arrays in ``credentials`` (``api_key = ["k1", "k2"]``) read position
    by position. Each key is the shared credentials updated with its own.
    """
    if not isinstance(credentials, dict):
        raise ValueError("credentials: expected a table of strings")
    shared = {name: value for name, value in credentials.items() if not isinstance(value, list)}
    arrays = {name: value for name, value in credentials.items() if isinstance(value, list)}
    if not all(isinstance(value, str) for value in shared.values()):
        raise ValueError("credentials: expected a table of strings (or arrays of strings, one per key)")
    tables: list[dict[str, str]] = []
    if arrays:
        lengths = {len(value) for value in arrays.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError("credentials: arrays of keys must be non-empty and of the same length")
        if not all(isinstance(item, str) for value in arrays.values() for item in value):
            raise ValueError("credentials: expected arrays of strings")
        tables = [{name: value[index] for name, value in arrays.items()} for index in range(lengths.pop())]
    if keys is not None:
        if tables:
            raise ValueError("keys: give several keys either as keys tables or as arrays in credentials, not both")
        if not isinstance(keys, list) or not keys or not all(isinstance(table, dict) for table in keys):
            raise ValueError("keys: expected an array of tables ([[channels.keys]]), one per key")
        for index, table in enumerate(keys):
            if not all(isinstance(value, str) for value in table.values()):
                raise ValueError(f"keys[{index}]: expected a table of strings")
        tables = keys
    if not tables:
        return shared, ()
    merged = tuple({**shared, **table} for table in tables)
    return merged[0], merged if len(merged) > 1 else ()


_converter.register_structure_hook(Token, _token)
_converter.register_structure_hook(Price, _price)
_converter.register_structure_hook(Decimal, _decimal)
_converter.register_structure_hook(Channel, _channel)


def substitute_env(value: Any, environ: Mapping[str, str], path: str = "", missing: list[str] | None = None) -> Any:
    """Replace ``${NAME}`` in every string of a parsed TOML document.

    An unset variable raises :class:`ConfigError`; with a ``missing`` list
    it is appended there instead (``key.path: ...`` lines, every one of the
    document) and ``${NAME}`` is left in place.
    """
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in environ:
                return environ[name]
            problem = f"{path or 'config'}: environment variable {name} is not set"
            if missing is None:
                raise ConfigError([problem])
            missing.append(problem)
            return match.group(0)

        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {
            key: substitute_env(item, environ, f"{path}.{key}" if path else key, missing) for key, item in value.items()
        }
    if isinstance(value, list):
        return [substitute_env(item, environ, f"{path}[{index}]", missing) for index, item in enumerate(value)]
    return value


def parse_config(document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """A :class:`Config` from a parsed TOML document.

    :raises ConfigError: with every unset variable and every invalid key.
    """
    missing: list[str] = []
    data = substitute_env(dict(document), os.environ if environ is None else environ, missing=missing)
    try:
        config = _converter.structure(data, Config)
    except cattrs.ClassValidationError as error:
        lines = cattrs.transform_error(error, path="", format_exception=_describe)
        raise ConfigError([*missing, *(_readable(line) for line in lines)]) from None
    if missing:
        raise ConfigError(missing, partial=config)
    return config


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


def check_file(path: str | os.PathLike[str], registry: Registry, pm: Any = None) -> tuple[Config | None, list[str]]:
    """Read and check a configuration file: the configuration (None when unreadable) and
    every problem, as ``reelay check-config`` reports them (empty when usable)."""
    problems: list[str] = []
    try:
        config: Config | None = load_config(path)
    except ConfigError as error:
        problems += error.problems
        config = error.partial  # unset variables left as ${NAME}: the rest can still be checked
    if config is not None:
        problems += validate(config, registry, pm)
    return config, problems


# ---------------------------------------------------------------- model names


def _quoted(name: str) -> str:
    return f'"{name}"'


def channel_lists(channel: Channel, model: ModelSpec, registry: Registry) -> bool:
    """Whether ``channel`` may serve ``model`` by its vendor and ``models`` list (plugins aside)."""
    if channel.vendor != model.vendor:
        return False
    return not channel.models or any(registry.find(name, channel.vendor) is model for name in channel.models)


def bare_names(config: Config, registry: Registry) -> tuple[dict[str, ModelSpec], list[str]]:
    """Which model each ambiguous bare name means, and the problems settling them.

    A bare name several installed vendors register means the vendor
    ``[models]`` names for it; without one, the only vendor with a channel
    that may serve it. With two or more such vendors it is an error naming
    them (their qualified names ``vendor/model`` always work); with none the
    bare name means nothing (no channel could serve it anyway).
    """
    settled: dict[str, ModelSpec] = {}
    problems = []
    for name, vendor in config.models.items():
        where = f"models.{_quoted(name)}"
        if name not in registry.ambiguous and registry.find(name, vendor) is None:
            owner = registry.model(name)
            known = f" (it is a model of vendor {owner.vendor!r})" if owner is not None else ""
            problems.append(f"{where}: vendor {vendor!r} registers no model {name!r}{known}")
    for name, vendors in registry.ambiguous.items():
        where = f"models.{_quoted(name)}"
        choices = [registry.find(name, vendor) for vendor in vendors]
        if name in config.models:
            chosen = registry.find(name, config.models[name])
            if chosen is None:
                problems.append(
                    f"{where}: vendor {config.models[name]!r} registers no model {name!r}"
                    f" (vendors {', '.join(map(repr, vendors))} do)"
                )
            else:
                settled[name] = chosen
            continue
        served = [m for m in choices if m is not None and any(channel_lists(c, m, registry) for c in config.channels)]
        if len(served) == 1:
            settled[name] = served[0]
        elif served:
            problems.append(
                f"{where}: vendors {' and '.join(repr(m.vendor) for m in served)} both register {name!r} and have"
                f' channels for it; choose one with [models] {_quoted(name)} = "<vendor>", or call each by'
                f" its qualified name ({', '.join(qualified_name(m) for m in served)})"
            )
    return settled, problems


def resolve_name(name: str, registry: Registry, settled: Mapping[str, ModelSpec]) -> ModelSpec | None:
    """The model a name means: qualified, unambiguous, or an ambiguous bare name the configuration settled."""
    return settled.get(name) or registry.model(name)


def _alias_problems(config: Config, registry: Registry, settled: Mapping[str, ModelSpec]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for index, alias in enumerate(config.aliases):
        where = f"aliases[{index}]"
        if not alias.name or "/" in alias.name:
            problems.append(f"{where}.name: required, without '/'")
        elif alias.name in seen:
            problems.append(f"{where}.name: {alias.name!r} is used twice")
        elif registry.model(alias.name) is not None or alias.name in registry.ambiguous:
            problems.append(f"{where}.name: {alias.name!r} is already a model name; choose another")
        seen.add(alias.name)
        if not alias.targets:
            problems.append(f"{where}.targets: at least one target model is required")
        for position, target in enumerate(alias.targets):
            if resolve_name(target, registry, settled) is not None:
                continue
            if target in registry.ambiguous:
                qualified = ", ".join(f"{vendor}/{target}" for vendor in registry.ambiguous[target])
                reason = f"{target!r} is registered by several vendors; name one ({qualified})"
            else:
                reason = f"{target!r} is not a registered model"
            problems.append(f"{where}.targets[{position}]: {reason}")
    return problems


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
        if token.webhook_url is not None:
            if token.webhook_secret is None:
                problems.append(f"tokens[{index}].webhook_secret: required with webhook_url")
            reason = url_refusal(token.webhook_url, allow_loopback=config.webhooks.allow_loopback)
            if reason is not None:
                problems.append(f"tokens[{index}].webhook_url: {reason}")
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
    problems.extend(_secret_problems(config, seen_tokens))
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
        keys = channel.keys or (channel.credentials,)
        declared = {credential.name for credential in vendor.credentials}
        for index, credentials in enumerate(keys):
            at = f"{where}.keys[{index}]" if channel.keys else f"{where}.credentials"
            for credential in vendor.credentials:
                if credential.required and not credentials.get(credential.name):
                    problems.append(f"{at}.{credential.name}: required by vendor {vendor.name!r}")
            for key in credentials:
                if key not in declared:
                    problems.append(f"{at}.{key}: not a credential of vendor {vendor.name!r}")
        for key in channel.options:
            if key not in vendor.options:
                choices = ", ".join(sorted(vendor.options)) or "none"
                problems.append(f"{where}.{key}: unknown key (vendor {vendor.name!r} options: {choices})")
        for model_name in channel.models:
            if registry.find(model_name, vendor.name) is None:
                problems.append(f"{where}.models: {model_name!r} is not a model of vendor {vendor.name!r}")
        for model_name in channel.model_map:
            if registry.model(model_name) is None and model_name not in registry.ambiguous:
                problems.append(f"{where}.model_map: {model_name!r} is not a registered model")
        if pm is not None:
            for answer in pm.hook.reelay_validate_channel(channel=channel, vendor=vendor):
                problems.extend(f"{where}.{problem}" for problem in answer or ())
    settled, name_problems = bare_names(config, registry)
    return problems + name_problems + _alias_problems(config, registry, settled)


def _secret_problems(config: Config, token_digests: set[str]) -> list[str]:
    """The admin key and the metrics token: long enough, and never a caller's token."""
    problems = []
    for where, secret in (("admin.key", config.admin.key), ("metrics.token", config.metrics.token)):
        if secret is None:
            continue
        if len(secret) < 16:
            problems.append(f"{where}: must be at least 16 characters")
        elif hash_key(secret) in token_digests:
            problems.append(f"{where}: must not be a caller's token")
    return problems
