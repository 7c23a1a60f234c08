"""The committed iJw/iWmo XSDs are exactly what the generator's data says, and every XSD compiles.

Byte-for-byte reproduction is what keeps the Python data the single source of truth: an
edit to a generated XSD by hand, or a data change without regenerating, fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from connectors.istandaard.law import Law
from schemas import SCHEMA_DIR
from schemas.build_istandaard import render_all
from schemas.istandaard_messages import MESSAGES

PROJECT_ROOT = SCHEMA_DIR.parent
GENERATED_DIRS = ("ijw-3.2", "iwmo-3.2")
ALL_XSDS = sorted(p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.xsd"))


def test_generator_reproduces_committed_xsds(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "schemas.build_istandaard", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    generated = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.xsd"))
    committed = sorted(
        p.relative_to(SCHEMA_DIR).as_posix() for d in GENERATED_DIRS for p in (SCHEMA_DIR / d).glob("*.xsd")
    )
    assert generated == committed, "generated and committed file sets differ (stale or missing XSDs)"
    differing = [rel for rel in generated if (tmp_path / rel).read_bytes() != (SCHEMA_DIR / rel).read_bytes()]
    assert differing == [], f"regenerate with `python -m schemas.build_istandaard`: {differing}"


def test_generator_is_deterministic() -> None:
    assert render_all() == render_all()


def test_generator_covers_fourteen_messages_per_law() -> None:
    assert sorted(MESSAGES) == [301, 302, 305, 306, 307, 308, 315, 316, 317, 318, 319, 320, 323, 325]
    files = render_all()
    assert len(files) == 2 * (1 + 14)
    for law in Law:
        for number in MESSAGES:
            text = files[law.schema_path(number)]
            assert f'targetNamespace="{law.message_namespace(number)}"' in text
            assert f'<xs:pattern value="{law.bericht_code(number)}"/>' in text


def test_law_specific_facts_end_up_in_the_right_schema() -> None:
    files = render_all()
    # Product categories: iJw 31..55, iWmo 01..18.
    assert '<xs:enumeration value="45"/>' in files["ijw-3.2/basisschema.xsd"]
    assert '<xs:enumeration value="45"/>' not in files["iwmo-3.2/basisschema.xsd"]
    # Woonplaatsbeginsel and GezagsdragerBekend exist in iJw only.
    assert "Woonplaatsbeginsel" in files["ijw-3.2/jw319.xsd"]
    assert "Woonplaatsbeginsel" not in files["iwmo-3.2/wmo319.xsd"]
    assert "GezagsdragerBekend" not in files["iwmo-3.2/wmo315.xsd"]
    # ...but the iWmo retours mirror the iJw retours exactly.
    assert "Woonplaatsbeginsel" in files["iwmo-3.2/wmo320.xsd"]


def test_generated_xsds_carry_no_copied_documentation() -> None:
    for rel, text in render_all().items():
        assert "xs:annotation" not in text and "xs:documentation" not in text, rel


@pytest.mark.parametrize("relative", ALL_XSDS)
def test_xsd_compiles_with_lxml(relative: str) -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    etree.XMLSchema(etree.parse(str(SCHEMA_DIR / relative), parser=parser))


@pytest.mark.parametrize("relative", ALL_XSDS)
def test_xsd_compiles_with_xmlschema(relative: str) -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA_DIR / relative))
    assert schema.validity == "valid"


def test_every_expected_schema_is_present() -> None:
    expected = {"ggk/ggk-envelope.xsd", "ggk/stuf0301-ggk.xsd", "ggk/xmlmime.xsd"}
    for law in Law:
        expected.add(f"{law.standard}-3.2/basisschema.xsd")
        expected.update(law.schema_path(n) for n in MESSAGES)
    assert expected <= set(ALL_XSDS)
