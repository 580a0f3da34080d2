"""Identity: access tokens, credentials and the KGC's signed system parameters (pure).

Shared by the KGC (which issues), every service (which verifies tokens) and the SDK
(which pins and verifies the system parameters). No HTTP, no database here.
"""
