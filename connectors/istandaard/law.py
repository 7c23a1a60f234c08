"""What distinguishes iJw 3.2 from iWmo 3.2: namespaces, BerichtCodes, message names."""

from __future__ import annotations

from enum import StrEnum


class Law(StrEnum):
    JEUGDWET = "jeugdwet"
    WMO = "wmo"

    @property
    def standard(self) -> str:
        """The iStandaard's short name as used in namespaces: ``ijw`` or ``iwmo``."""
        return "ijw" if self is Law.JEUGDWET else "iwmo"

    @property
    def message_prefix(self) -> str:
        """``jw`` or ``wmo``: the lower-case prefix of message names and namespaces."""
        return "jw" if self is Law.JEUGDWET else "wmo"

    def function_name(self, number: int) -> str:
        """``JW301`` / ``WMO301``: the name used as the GGk envelope's ``functie``."""
        return f"{self.message_prefix.upper()}{number}"

    def basis_namespace(self) -> str:
        return f"http://www.istandaarden.nl/{self.standard}/3_2/basisschema/schema"

    def message_namespace(self, number: int) -> str:
        return f"http://www.istandaarden.nl/{self.standard}/3_2/{self.message_prefix}{number}/schema"

    def schema_path(self, number: int) -> str:
        """Path of the project's own XSD for message ``number``, relative to ``schemas/``."""
        return f"{self.standard}-3.2/{self.message_prefix}{number}.xsd"

    def bericht_code(self, number: int) -> str:
        """The BerichtCode of message ``number`` (COD002/WJ002)."""
        return _BERICHT_CODES[self][number]


_BERICHT_CODES: dict[Law, dict[int, str]] = {
    Law.JEUGDWET: {
        301: "436",
        302: "437",
        305: "438",
        306: "439",
        307: "440",
        308: "441",
        315: "446",
        316: "447",
        317: "486",
        318: "487",
        319: "488",
        320: "489",
        323: "490",
        325: "491",
    },
    Law.WMO: {
        301: "414",
        302: "415",
        305: "418",
        306: "419",
        307: "420",
        308: "421",
        315: "444",
        316: "445",
        317: "480",
        318: "481",
        319: "482",
        320: "483",
        323: "484",
        325: "485",
    },
}
