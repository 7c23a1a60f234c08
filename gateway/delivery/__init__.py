"""Delivery: claim due messages with a lease, send, classify, retry or park.

Exception-free by design: a send never raises to the worker; it returns an
:class:`~gateway.delivery.outcome.Outcome` that says what happened.
"""
