"""The TOML configuration: keys, environment substitution, errors with key paths."""

import textwrap

import pytest

from reelay.config import ConfigError, hash_key, load_config, parse_config, validate
from reelay.models import NormalizationPolicy
from reelay.plugins import Registry

GOOD = """
[server]
host = "0.0.0.0"
port = 9000
max_body_mb = 8

[store]
url = "sqlite:///tasks.db"

[gateway]
normalization = "strict"

[[tokens]]
name = "team-a"
key = "${TEAM_A_KEY}"
group = "premium"

[[tokens]]
name = "team-b"
key_sha256 = "TEAM_B_DIGEST"

[[channels]]
name = "acme-eu"
vendor = "acme"
base_url = "https://eu.acme.invalid"
groups = ["premium", "default"]
models = ["acme-1"]
priority = 10
weight = 3
model_map = { "acme-1" = "acme-1-2025" }
normalization = "snap"
[channels.credentials]
api_key = "${ACME_KEY}"
""".replace("TEAM_B_DIGEST", hash_key("team-b-secret-key"))

ENV = {"TEAM_A_KEY": "team-a-secret-key", "ACME_KEY": "acme-secret"}


def write(tmp_path, text):
    path = tmp_path / "reelay.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_full_configuration_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD), ENV)
    assert config.server.port == 9000 and config.server.max_body_mb == 8.0
    assert config.tokens[0].key_sha256 == hash_key("team-a-secret-key") and config.tokens[0].group == "premium"
    channel = config.channels[0]
    assert channel.credentials["api_key"] == "acme-secret"
    assert channel.model_map == {"acme-1": "acme-1-2025"}
    assert config.policy_for(channel) is NormalizationPolicy.SNAP
    assert config.gateway.normalization is NormalizationPolicy.STRICT


def test_secrets_are_not_in_reprs(tmp_path):
    config = load_config(write(tmp_path, GOOD), ENV)
    assert "acme-secret" not in repr(config) and "team-a-secret-key" not in repr(config)
    assert config.tokens[0].key_sha256 not in repr(config)


def test_missing_environment_variable_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD), {"TEAM_A_KEY": "team-a-secret-key"})
    assert caught.value.problems == ["channels[0].credentials.api_key: environment variable ACME_KEY is not set"]


def test_every_missing_variable_and_every_invalid_key_are_reported_at_once(tmp_path):
    text = GOOD.replace("port = 9000", "port = 'ninety'")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert caught.value.problems == [
        "tokens[0].key: environment variable TEAM_A_KEY is not set",
        "channels[0].credentials.api_key: environment variable ACME_KEY is not set",
        "server.port: expected an integer",
    ]
    assert caught.value.partial is None  # not readable as a whole: nothing more to check


def test_a_file_missing_only_variables_can_still_be_validated(tmp_path, acme_pm):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD.replace('vendor = "acme"', 'vendor = "acme"\nzone = "eu"')), {})
    assert len(caught.value.problems) == 2
    partial = caught.value.partial
    assert partial is not None and partial.channels[0].credentials["api_key"] == "${ACME_KEY}"
    assert any(p.startswith("channels[0].zone: unknown key") for p in validate(partial, Registry.collect(acme_pm)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nport = 'eighty'", "server.port: expected an integer"),
        ("[server]\nprot = 80", "server: unknown keys"),
        ("[[tokens]]\nname = 'a'", "tokens[0]: give exactly one of key or key_sha256"),
        ("[[tokens]]\nname = 'a'\nkey = 'short'", "tokens[0]: key: must be a string of at least 8"),
        ("[[channels]]\nname = 'c'", "channels[0]: vendor: required"),
        ("[[channels]]\nname = 'c'\nvendor = 'acme'\nweight = -1", "channels[0]: weight must be >= 0"),
        ("[gateway]\nnormalization = 'loose'", "gateway.normalization"),
        ("[logging]\nformat = 'xml'", "logging: expected console or json"),
        ("[store]\nkeep_days = -1", "keep_days"),
        ("[store]\nmax_result_mb = 0", "max_result_mb"),
    ],
)
def test_errors_name_the_key_path(text, expected):
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text), {})
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_invalid_toml_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\nport = 1"), {})


def test_validate_against_installed_plugins(acme_pm):
    import tomllib

    document = tomllib.loads(
        """
        [[channels]]
        name = "a"
        vendor = "acme"
        models = ["acme-9"]
        zone = "eu"
        [channels.credentials]
        api_kee = "x"

        [[channels]]
        name = "a"
        vendor = "nobody"
        """
    )
    problems = validate(parse_config(document, {}), Registry.collect(acme_pm))
    assert "channels[0].credentials.api_key: required by vendor 'acme'" in problems
    assert "channels[0].credentials.api_kee: not a credential of vendor 'acme'" in problems
    assert "channels[0].models: 'acme-9' is not a model of vendor 'acme'" in problems
    assert any(p.startswith("channels[0].zone: unknown key") for p in problems)
    assert "channels[1].name: 'a' is used twice" in problems
    assert any(p.startswith("channels[1].vendor: no installed plugin provides 'nobody'") for p in problems)


def test_store_url_is_checked_without_connecting(acme_pm):
    pytest.importorskip("asyncpg")
    registry = Registry.collect(acme_pm)
    environ = {"PGPASSWORD": "pg-secret-pw"}

    def problems(url: str) -> list[str]:
        return validate(parse_config({"store": {"url": url}}, environ), registry)

    assert problems("postgresql://reelay:${PGPASSWORD}@db.internal:5432/reelay?pool_size=20") == []
    assert problems("postgres://db.internal/reelay") == []
    [problem] = problems("postgresql://reelay:${PGPASSWORD}@db.internal/reelay?pool_size=many")
    assert problem.startswith("store.url: pool_size must be a whole number") and "pg-secret-pw" not in problem
    assert problems("mysql://db.internal/reelay") == [
        "store.url: unsupported store URL scheme 'mysql': use sqlite:///PATH or postgresql://HOST/DATABASE"
    ]
