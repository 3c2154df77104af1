"""Money in the configuration file, and the operators' commands."""

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from reelay.cli import cli
from reelay.config import ConfigError, parse_config

BASE = {"tokens": [{"name": "team-a", "key": "sk-team-a-12345", "quota": "25.00", "max_in_flight": 20}]}


def test_prices_and_quotas_are_decimals_from_strings_or_numbers():
    config = parse_config(
        {
            **BASE,
            "billing": {"currency": "EUR"},
            "prices": [{"model": "kling-v1", "per_second": 0.07, "per_request": "0.5", "sizes": {"1920x1080": "0.14"}}],
        }
    )
    [price] = config.prices
    assert (price.per_second, price.per_request, price.sizes) == (
        Decimal("0.07"),
        Decimal("0.5"),
        {"1920x1080": Decimal("0.14")},
    )
    assert config.billing.currency == "EUR"
    assert (config.tokens[0].quota, config.tokens[0].max_in_flight) == (Decimal("25.00"), 20)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"prices": [{"model": "m", "per_second": "-1"}]}, "prices[0]: per_second: must not be negative"),
        ({"prices": [{"model": "m", "per_second": "abc"}]}, "prices[0]: per_second: expected an amount"),
        ({"prices": [{"model": "m", "sizes": {"1x1": "0.0000001"}}]}, "prices[0]: sizes.1x1: at most 6 decimal places"),
        ({"prices": [{"per_second": "1"}]}, "prices[0]: model: required"),
        ({"tokens": [{"name": "a", "key": "sk-12345678", "quota": "x"}]}, "tokens[0]: quota: expected an amount"),
        ({"tokens": [{"name": "a", "key": "sk-12345678", "max_in_flight": 0}]}, "tokens[0]: max_in_flight: expected"),
    ],
)
def test_money_errors_name_their_key(document, problem):
    with pytest.raises(ConfigError) as error:
        parse_config(document)
    assert any(line.startswith(problem) for line in error.value.problems), error.value.problems


def test_credit_usage_and_migrate_commands(tmp_path):
    path = tmp_path / "reelay.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        '[[tokens]]\nname = "team-a"\nkey = "sk-team-a-12345"\nquota = "25.00"\n'
    )
    runner = CliRunner()
    migrated = runner.invoke(cli, ["migrate", "--config", str(path)])
    assert migrated.exit_code == 0 and "version" in migrated.output
    credited = runner.invoke(cli, ["credit", "team-a", "-2.5", "--note", "fix", "--config", str(path)])
    assert credited.exit_code == 0 and "balance 22.50" in credited.output, credited.output
    report = runner.invoke(cli, ["usage", "--json", "--config", str(path)])
    [token] = json.loads(report.output[report.output.index("{") :])["tokens"]
    assert (token["quota"], token["balance"]) == ("25.00", "22.50")  # the quota credited once, across runs
    assert runner.invoke(cli, ["credit", "nobody", "1", "--config", str(path)]).exit_code != 0
    assert "team-a" in runner.invoke(cli, ["usage", "--config", str(path)]).output
