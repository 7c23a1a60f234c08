"""A VTO with a 21 MiB document through the gateway: memory and time (issue 5's streaming).

The documents of a VTO are streamed - to disk on upload, as base64 into the StUF message,
into 1 MB encrypted chunks in the database, and from there onto the wire - rather than
held in memory several times. This bench shows what that costs.

    .venv/bin/python bench/corv_vto_memory.py                 # SQLite, one 21 MiB document
    .venv/bin/python bench/corv_vto_memory.py --backend postgresql --mib 21 --count 3

Starts real processes (``gateway serve`` with its worker, ``gateway mocks`` with the mock
CORV hub) on a throw-away database; POSTs ``--count`` VTOs as multipart, one after the
other, each with one document of ``--mib`` MiB, and waits until each is ``accepted``
(ack + Bv01 from the mock hub). Prints the upload time, the time to accepted, and the
gateway process's peak RSS (VmHWM) before and after. The mock hub parses and checks each
message too; its memory is printed but is not the gateway's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_processes import load, running_processes

from gateway.settings import DEV_API_KEY

HEADERS = {"X-API-Key": DEV_API_KEY}


def vto_json(n: int) -> str:
    return json.dumps(
        {
            "zaak_identificatie": f"ZAAK-BENCH-{n:04d}",
            "startdatum": "2026-11-29",
            "urgentie": "hoog",
            "kinderen": [
                {
                    "persoon": {
                        "bsn": "999900018",
                        "geslachtsnaam": "Jansen",
                        "voornamen": "Tim",
                        "geboortedatum": "2015-06-01",
                        "geslachtsaanduiding": "M",
                    }
                }
            ],
            "belanghebbenden": [
                {
                    "rol": "ouder met gezag",
                    "persoon": {
                        "bsn": "999900031",
                        "geslachtsnaam": "Jansen",
                        "voorletters": "M",
                        "anp_identificatie": "12345678901234567",
                    },
                }
            ],
            "uitvoerende": {"achternaam": "de Vries", "organisatie": "Jeugdteam Zoetermeer"},
            "documenten": [
                {"soort": "Verzoek tot onderzoek RvdK", "bestandsnaam": "verzoek.pdf", "part": "verzoek"}
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mib", type=float, default=21.0, help="document size in MiB (limit 21)")
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    print(load())
    with tempfile.TemporaryDirectory() as folder, running_processes(args.backend) as stack:
        document = Path(folder) / "verzoek.pdf"
        document.write_bytes(os.urandom(int(args.mib * 1024 * 1024)))
        size_mib = document.stat().st_size / 1024 / 1024
        print(
            f"{args.backend}: gateway peak RSS after start-up {stack.peak_rss_mb():.0f} MB, "
            f"mock {stack.peak_rss_mb(stack.mock_pid):.0f} MB"
        )
        with httpx.Client(base_url=stack.gateway_url, timeout=300) as client:
            for n in range(args.count):
                started = time.perf_counter()
                with document.open("rb") as content:
                    response = client.post(
                        "/api/v1/corv/vto",
                        headers=HEADERS,
                        files={
                            "vto": (None, vto_json(n), "application/json"),
                            "verzoek": ("verzoek.pdf", content, "application/pdf"),
                        },
                    )
                uploaded = time.perf_counter() - started
                response.raise_for_status()
                vto_id = response.json()["id"]
                state = ""
                while state not in ("accepted", "rejected", "parked", "expired"):
                    time.sleep(0.05)
                    state = client.get(f"/api/v1/corv/vto/{vto_id}", headers=HEADERS).json()["state"]
                done = time.perf_counter() - started
                print(
                    f"VTO {n + 1}: {size_mib:.1f} MiB document, upload + store {uploaded:.2f} s, "
                    f"{state} after {done:.2f} s; gateway peak RSS {stack.peak_rss_mb():.0f} MB, "
                    f"mock {stack.peak_rss_mb(stack.mock_pid):.0f} MB"
                )
    print(load())


if __name__ == "__main__":
    main()
