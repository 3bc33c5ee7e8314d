"""moto's own server (`moto_server`), with its list of service modules read once.

    python moto_server.py [moto_server's arguments]

moto 5.2.5 routes every request by listing its own package directory and stat()ing each
of its ~180 entries (moto.backends.list_of_moto_modules), over half of its time per
request. The list cannot change while the server runs, so reading it once changes
nothing but speed: a PutSecretValue takes about 3 ms instead of about 6 ms (on the
machine in docs/performance.md, section 'Results'). With moto answering one request at a time, that
per-request cost, not the function under test, would otherwise set the wall time of
every run that makes dozens of requests.
"""

from __future__ import annotations

import sys

import moto.backends

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: iter(_MODULES)

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
