"""CORV (JUBES): the gateway side of the justice chain - StUF jz0100 over ebMS2.

- :mod:`gateway.corv.config`: parties by OIN, endpoints, the contract's retry policy.
- :mod:`gateway.corv.wire`: outbound wire bytes stored in 1 MB chunks, streamed on send.
- :mod:`gateway.corv.outbound`: an outbound CORV message into the outbox (one transaction).
- :mod:`gateway.corv.transport`: the worker's ebMS transport (ack, MessageError, retry).
- :mod:`gateway.corv.answers`: Bv01/Fo01/Fo03 and acks for our messages.
- :mod:`gateway.corv.inbound`: what the hub posts to ``/corv/ebms``.
- :mod:`gateway.corv.vto`, :mod:`gateway.corv.zorgmeldingen`: the business side.
- :mod:`gateway.corv.api`, :mod:`gateway.corv.endpoint`: the HTTP routers.
"""
