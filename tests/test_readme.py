"""The README's promises: its example request is accepted, its commands exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.api.beschikking_models import BeschikkingIn
from gateway.intake_rules import check_beschikking
from gateway.settings import DEV_API_KEY

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_is_two_commands_that_exist() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("###", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quickstart, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["./dev serve", "./dev test"]
    assert (ROOT / "dev").stat().st_mode & 0o111
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def test_the_curl_example_is_a_valid_beschikking() -> None:
    body = re.search(r"-d '(\{.*?\})'", README, re.S)
    assert body is not None
    beschikking = BeschikkingIn.model_validate(json.loads(body.group(1)))
    assert check_beschikking(beschikking) == []
    assert DEV_API_KEY in README


def test_every_documented_setting_exists() -> None:
    from gateway.settings import Settings

    fields = set(Settings.model_fields)
    documented = set(re.findall(r"`GATEWAY_([A-Z_]+?)(?:__[A-Z_]+)?`", README))
    documented -= {"TEST_POSTGRES_URL", "REQUIRE_POSTGRES", "SETTINGS_FILE"}
    assert {name.lower() for name in documented} <= fields
