"""The hospital gateway: FHIR R4 REST and SMART Backend Services over the PHR SDK.

It runs inside a hospital's network, holds its organisation's ``system`` identity (and
the staff keystores placed in it), does every encryption and decryption itself, and
speaks plain FHIR R4 to the hospital's systems. It imports no service: only the SDK
(``phr.sdk``, ``phr.client``, ``phr.crypto``, ``phr.fhir``) and a home's files.
"""
