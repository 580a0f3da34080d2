"""The crypto floor of one access: what no design can avoid, measured on this machine.

For one segment of ``size`` bytes read at t-of-N: N Umbral re-encryptions (one per SRS
node, kfrags already verified and cached as the nodes keep them), t cfrag
verifications and the capsule opened with them (decrypt_reencrypted), then AES-256-GCM
decryption and SHA-256 of the ciphertext. Everything else an access spends (HTTP,
JSON, signatures, Mongo, Kafka, S3) is overhead over this floor; bench/system.py
divides its CPU per access by it (``cpu_per_access_over_floor``).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time

from phr.client import encrypt_segment
from phr.crypto import pre
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.stream import SegmentContext, SegmentDecryptor

CTX = SegmentContext("patient-1", "record-1", "labs", 1)


def crypto_floor_ms(size: int, *, nodes: int = 3, threshold: int = 2, reps: int = 200) -> float:
    """Median milliseconds of the floor of one access to a ``size``-byte segment."""
    master, grantee = PatientMasterKey.generate(), UserKeys.generate()
    segment_sk = master.segment_secret_key("labs", 1)
    signer = master.kfrag_signer()
    pending = encrypt_segment([os.urandom(size)], context=CTX, segment_pk=segment_sk.public_key())
    ciphertext = b"".join(pending.chunks)
    entry = pending.entry()
    keys = {"verifying_pk": signer.public_key(), "delegating_pk": segment_sk.public_key()}
    kfrags = [
        pre.verify_kfrag(k, receiving_pk=grantee.pre.public_key(), **keys)
        for k in pre.generate_kfrags(
            segment_sk, grantee.pre.public_key(), signer, threshold=threshold, shares=nodes
        )
    ]

    def access() -> None:
        cfrags = [pre.reencrypt_verified(pending.capsule, k) for k in kfrags]
        secret = pre.open_reencrypted(
            grantee.pre, pending.capsule, cfrags[:threshold], threshold=threshold, **keys
        )
        hashlib.sha256(ciphertext).digest()
        for _ in SegmentDecryptor(secret.data_key, CTX, [ciphertext]):
            pass

    access()
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        access()
        times.append(time.process_time() - t0)
    assert hashlib.sha256(ciphertext).hexdigest() == entry.sha256
    return round(statistics.median(times) * 1000, 3)


if __name__ == "__main__":
    import json

    print(json.dumps({"crypto_floor_ms_64kib": crypto_floor_ms(64 * 1024)}))
