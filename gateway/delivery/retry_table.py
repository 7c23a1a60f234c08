"""Print the retry schedule of every partner, from the policies the worker really uses.

``docs/delivery-guarantees.md`` quotes this output, so the document cannot drift from
the code: re-run it after changing a policy or its settings::

    python -m gateway.delivery.retry_table               # the defaults
    python -m gateway.delivery.retry_table --configured  # with GATEWAY_* / gateway.env

Runs of attempts with the same delay are folded into one row.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from gateway.corv.config import corv_route, retry_policy
from gateway.delivery.retry_policy import RetryPolicy
from gateway.settings import Settings, load_settings


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def schedule_rows(policy: RetryPolicy, max_rows: int = 10_000) -> Iterator[str]:
    """Markdown rows: failed attempt(s) -> wait before the next -> time since the first attempt."""
    rows = policy.table(max_rows)
    index = 0
    while index < len(rows):
        attempt, delay, elapsed = rows[index]
        last = index
        while last + 1 < len(rows) and rows[last + 1][1] == delay:
            last += 1
        if last == index:
            yield f"| {attempt} | {_duration(delay)} | {_duration(elapsed)} |"
        else:
            yield (
                f"| {attempt}-{rows[last][0]} | {_duration(delay)} each |"
                f" {_duration(elapsed)} - {_duration(rows[last][2])} |"
            )
        index = last + 1
    final = rows[-1][0] + 1 if rows else 1
    yield f"| {final} | - (no further try: the message expires) | |"


def tables(settings: Settings) -> Iterator[str]:
    retry = settings.retry
    general = RetryPolicy.from_settings(retry)
    jitter = f", plus up to {retry.jitter_s:g} s of random jitter per wait" if retry.jitter_s else ""
    yield "### GGk (iJw/iWmo, SVB, CAK) and webhooks"
    yield ""
    yield (
        f"Exponential: {retry.initial_delay_s:g} s x {retry.multiplier:g}^(n-1), at most"
        f" {_duration(retry.max_delay_s)}{jitter}; given up {retry.horizon_days:g} days after the first try."
    )
    yield ""
    yield "| failed attempt | wait before the next | since the first attempt |"
    yield "|---|---|---|"
    yield from schedule_rows(general)
    for party in settings.corv.parties:
        yield ""
        yield f"### CORV, route `{corv_route(party.oin)}`"
        yield ""
        yield (
            f"Fixed: every {_duration(party.retry_interval_s)}, {party.retries} re-sends"
            " (the CORV contract), the same ebMS MessageId each time; then expired."
        )
        yield ""
        yield "| failed attempt | wait before the next | since the first attempt |"
        yield "|---|---|---|"
        yield from schedule_rows(retry_policy(party))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.delivery.retry_table", description=__doc__)
    parser.add_argument(
        "--configured", action="store_true", help="use GATEWAY_* variables and gateway.env, not the defaults"
    )
    args = parser.parse_args(argv)
    settings = load_settings() if args.configured else Settings(_env_file=None)
    for line in tables(settings):
        print(line)


if __name__ == "__main__":
    main()
