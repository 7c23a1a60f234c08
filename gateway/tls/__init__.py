"""Mutual TLS with the chain parties (Digikoppeling, PKIoverheid certificates).

- :mod:`gateway.tls.identity`: the OIN in a certificate (subject ``serialNumber``);
- :mod:`gateway.tls.client`: outbound - an ``ssl.SSLContext``/``httpx.Client`` that
  presents our certificate and refuses a server that is not the configured party;
- :mod:`gateway.tls.server`: inbound - the chain listener's context and a uvicorn
  protocol that hands the verified peer certificate to the app;
- :mod:`gateway.tls.access`: which chain party may post what to which endpoint.
"""
