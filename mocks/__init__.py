"""Runnable fakes of the chain parties (GGk with its aanbieders, SVB, CAK, CORV/JUBES).

Each fake speaks the party's real transport format, so the gateway is tested over real
HTTP against the same bytes it meets in production, and each can be told to misbehave
(reject, fail, time out, stay silent) so that the gateway's failure handling is tested
as well as its happy path.
"""
