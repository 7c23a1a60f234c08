"""Run the mock CORV hub: ``python -m mocks.corv --port 8082 --callback-url http://127.0.0.1:8080/corv/ebms``."""

from __future__ import annotations

import argparse

import uvicorn

from mocks.corv.app import create_app
from mocks.corv.config import MockCorvConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mocks.corv", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--callback-url", required=True, help="the gateway's ebMS endpoint (…/corv/ebms)")
    parser.add_argument("--gemeente-oin", default="00000099000000000637")
    parser.add_argument("--hub-oin", default="00000099000000001000")
    parser.add_argument("--cpa-id", default="CPA-CORV-0637")
    parser.add_argument("--answer-delay", type=float, default=0.2, help="seconds between ack and async Fo01")
    parser.add_argument("--published-schema", default=None, help="published jz0100_msg_jzberichten*.xsd")
    args = parser.parse_args(argv)
    config = MockCorvConfig(
        callback_url=args.callback_url,
        gemeente_oin=args.gemeente_oin,
        hub_oin=args.hub_oin,
        cpa_id=args.cpa_id,
        answer_delay_s=args.answer_delay,
        published_schema=args.published_schema,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
