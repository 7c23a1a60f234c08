"""The operations side of the gateway (issue 6): plain services over a SQLAlchemy Session.

The console (``gateway.console``, server-rendered) and the JSON API (``/ops/api/v1``,
:mod:`gateway.ops.api`) both call these; neither talks to the tables directly.

=====================  =================================================================
module                 what it offers
=====================  =================================================================
``operators``          roles, accounts (Argon2id), server-side sessions, role checks
``overview``           per party and route: states, throughput, latency, overdue, parked
``search``             messages by BSN (keyed hash), toewijzing-/beschikkingnummer,
                       referentienummer/MessageId, type, party, state, dates; paged
``detail``             one message: timeline, envelope ids, masked payload, retourcodes,
                       related messages; ``reveal_bsn`` for a privacy officer (audited)
``masking``            which payload elements are personal data, and masking them
``actions``            park/unpark, pause/resume a route, mark an overdue item handled
``replay``             replay one or a filtered set as a tracked job (preview, confirm);
                       ``replay_batches`` processes the jobs, ``replay_states`` the rules
``alerts``             overdue / parked / route failing: raised once per state change
``reports``            counts, waiting and lead times per product/provider/team/law; CSV
``metrics``            Prometheus ``/metrics`` (no personal data in labels)
``health``             ``/health/live`` and ``/health/ready``
``api``                ``/ops/api/v1`` (JSON over these services); ``install_ops(app)``
``cli_operator``       ``gateway operator create|role|list``
``audit_trail``        the one place actions reach ``gateway.audit``
``errors``             what the services raise, with its HTTP status
=====================  =================================================================

Every action takes the acting :class:`~gateway.ops.operators.OperatorInfo` and a reason,
checks the role, and writes an audit record (``gateway.audit``) in the same transaction.
Errors are :mod:`gateway.ops.errors` exceptions with an HTTP status.
"""
