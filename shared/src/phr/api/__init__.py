"""The wire contract: every request and response body of every service, pydantic only.

One definition per shape, imported by the service that serves it (which keeps only its
``from_doc`` mappers), by the SDK and the CLI that call it, and by the tests. Nothing
here imports anything but pydantic and the standard library (an import-linter contract
holds it to that), so a client installs it without any server framework.

``ids`` holds the one id pattern and the composite ids built from ids; ``owner``,
``user``, ``srs``, ``kgc`` and ``cloud`` the bodies of each service (the ledger's are in
``phr.ledger.wire``).
"""
