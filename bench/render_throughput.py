"""Render + validate throughput of JW301/WMO301 per core, next to the raw lxml floor (bench 1).

Goal: the gateway's render path reaches >= 50 % of the floor measured in the same run.

    .venv/bin/python bench/render_throughput.py --seconds 5

One process, one thread (= one core). The gateway path is
``connectors.istandaard.render_toewijzing``: write the document as text from the domain
model, parse it once, validate it against the project's XSD (a message that fails there
is rendered again element by element, for the specific error; the bench message
validates). The floor does the least any implementation must: deep-copy an already built
tree of the same message, validate it against the same compiled schema, serialise it.
For comparison the bench also runs ``render_toewijzing_tree``, the element-by-element
builder the gateway used before (build the tree with ``SubElement``, validate,
serialise); both renderers must give the same bytes. The message is the connector tests'
``sample_bericht`` (client with contacts and a relative, three products). Prints
messages/s for each, their ratio to the floor, and the machine load (other work on a
shared machine slows all alike; the ratio is the figure to compare).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from connectors.istandaard import Law, render_toewijzing
from connectors.istandaard.toewijzing import render_toewijzing_tree, serialize
from connectors.xsd import load_schema
from tests.connectors.test_istandaard_toewijzing import sample_bericht


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of this process (wall time would count the neighbours' load)."""
    for _ in range(50):
        work()
    done, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < seconds:
        for _ in range(50):
            work()
        done += 50
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds per measurement")
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} {five:.2f} (1/5 min) on {os.cpu_count()} cores; rates per CPU second")
    for law in (Law.JEUGDWET, Law.WMO):
        bericht = sample_bericht(law)
        if render_toewijzing(bericht) != render_toewijzing_tree(bericht):
            raise AssertionError("render_toewijzing and render_toewijzing_tree disagree")
        template = etree.fromstring(render_toewijzing(bericht))
        schema = load_schema(law.schema_path(301))

        def floor(template: etree._Element = template, schema: etree.XMLSchema = schema) -> bytes:
            tree = copy.deepcopy(template)
            if not schema.validate(tree):
                raise AssertionError("the template does not validate")
            return serialize(tree)

        def gateway(bericht: object = bericht) -> bytes:
            return render_toewijzing(bericht)  # type: ignore[arg-type]

        def tree(bericht: object = bericht) -> bytes:
            return render_toewijzing_tree(bericht)  # type: ignore[arg-type]

        floor_rate = rate(floor, args.seconds)
        gateway_rate = rate(gateway, args.seconds)
        tree_rate = rate(tree, args.seconds)
        name = law.function_name(301)
        print(
            f"{name:<7} floor (deepcopy + validate + serialise) {floor_rate:7.0f}/s; "
            f"render_toewijzing {gateway_rate:7.0f}/s = {gateway_rate / floor_rate:4.0%} of the floor "
            f"(goal >= 50 %); render_toewijzing_tree {tree_rate:7.0f}/s = {tree_rate / floor_rate:4.0%}"
        )


if __name__ == "__main__":
    main()
