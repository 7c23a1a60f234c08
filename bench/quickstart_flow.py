"""Time the Quickstart flow: POST a beschikking -> its JW301 answered with a JW302.

Run against a gateway started with ``./dev serve`` (or ``gateway serve --with-mocks``):

    .venv/bin/python bench/quickstart_flow.py --runs 20

Prints each run and the median and 95th percentile. The mock aanbieder waits
``GATEWAY_MOCK_RETOUR_DELAY_S`` (default 0.5 s) before it answers, as a provider's
system would take a moment; that delay is part of the figure.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import httpx

from gateway.settings import DEV_API_KEY


def body(n: int) -> dict[str, object]:
    bsns = ["999900006", "999900018", "999900031", "999900043", "999900055"]
    return {
        "beschikkingnummer": f"BENCH-{uuid.uuid4().hex[:10]}",
        "wet": "jeugdwet",
        "client": {
            "bsn": bsns[n % len(bsns)],
            "geboortedatum": "2014-03-21",
            "geslacht": "2",
            "naam": {"achternaam": "Jansen", "voorletters": "S"},
            "adres": {
                "huisnummer": 1,
                "postcode": "2711AA",
                "straatnaam": "Markt",
                "plaatsnaam": "Zoetermeer",
            },
        },
        "periode": {"begindatum": f"{2030 + n}-01-01", "einddatum": f"{2030 + n}-06-30"},
        "producten": [
            {
                "categorie": "45",
                "code": "45A08",
                "aanbieder_agb": "99990001",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key", default=DEV_API_KEY)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    headers = {"X-API-Key": args.key}
    timings: list[float] = []
    with httpx.Client(base_url=args.url, headers=headers, timeout=30) as client:
        for n in range(args.runs):
            started = time.perf_counter()
            created = client.post("/api/v1/beschikkingen", json=body(n))
            created.raise_for_status()
            message_id = created.json()["berichten"][0]["id"]
            while True:
                state = client.get(f"/api/v1/berichten/{message_id}").json()["state"]
                if state in ("answered", "rejected", "parked", "expired"):
                    break
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            print(f"run {n + 1:3d}: bericht {message_id} {state} after {elapsed * 1000:7.1f} ms")
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"POST -> answered: median {statistics.median(timings) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
        f"over {len(timings)} runs"
    )


if __name__ == "__main__":
    main()
