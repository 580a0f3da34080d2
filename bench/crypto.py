"""Crypto core benchmark: prints ONE JSON object (run: uv run python bench/crypto.py).

Throughputs are medians of several repetitions, in MB/s (10**6 bytes per second) of
plaintext. The raw baseline calls the same primitives directly on the same buffer in
the same run: AESGCM(key).encrypt per 1 MiB chunk plus hashlib SHA-256 of the
ciphertext. Peak RSS of a 1 GiB segment is measured in a fresh subprocess that
streams generated data through ``SegmentEncryptor`` and reads ``getrusage``.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phr.client import OwnerKeys, encrypt_record, encrypt_segment
from phr.crypto import pre
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.stream import SegmentContext, SegmentDecryptor, SegmentEncryptor
from phr.fhir.synthetic import load_bundle

MIB = 1 << 20
CTX = SegmentContext("patient-1", "record-1", "labs", 1)
FIXTURE = Path(__file__).resolve().parents[1] / "shared/tests/data/synthea_r4_seed42.json.gz"


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mbps(size: int, seconds: float) -> float:
    return round(size / seconds / 1e6, 1)


def throughput(size: int, reps: int) -> dict[str, float]:
    key, data = os.urandom(32), os.urandom(size)
    aad = b"\x00" * 19 + CTX.aad()
    ciphertext = b"".join(SegmentEncryptor(key, CTX, [data]))
    view = memoryview(data)

    def raw_encrypt() -> None:
        aes, h = AESGCM(key), hashlib.sha256()
        for i, off in enumerate(range(0, size, MIB)):
            ct = aes.encrypt(b"\x00" * 8 + i.to_bytes(4, "big"), view[off : off + MIB], aad)
            h.update(ct)
        h.digest()

    raw_cts = [
        AESGCM(key).encrypt(b"\x00" * 8 + i.to_bytes(4, "big"), view[off : off + MIB], aad)
        for i, off in enumerate(range(0, size, MIB))
    ]

    def raw_decrypt() -> None:
        aes, h = AESGCM(key), hashlib.sha256()
        for i, ct in enumerate(raw_cts):
            h.update(ct)
            aes.decrypt(b"\x00" * 8 + i.to_bytes(4, "big"), ct, aad)
        h.digest()

    def ours_encrypt() -> None:
        enc = SegmentEncryptor(key, CTX, [data])
        for _ in enc:
            pass
        enc.sha256  # noqa: B018

    def ours_decrypt() -> None:
        for _ in SegmentDecryptor(key, CTX, [ciphertext]):
            pass

    # Interleave ours and raw so that frequency drift hits both alike.
    raw_e, our_e, raw_d, our_d = [], [], [], []
    for _ in range(3):
        raw_e.append(median_seconds(raw_encrypt, reps))
        our_e.append(median_seconds(ours_encrypt, reps))
        raw_d.append(median_seconds(raw_decrypt, reps))
        our_d.append(median_seconds(ours_decrypt, reps))
    raw_e_s, our_e_s = statistics.median(raw_e), statistics.median(our_e)
    raw_d_s, our_d_s = statistics.median(raw_d), statistics.median(our_d)
    return {
        "encrypt": mbps(size, our_e_s),
        "decrypt": mbps(size, our_d_s),
        "raw": mbps(size, raw_e_s),
        "raw_decrypt": mbps(size, raw_d_s),
        "ratio": round(raw_e_s / our_e_s, 3),
        "decrypt_ratio": round(raw_d_s / our_d_s, 3),
    }


def share_1mib_ms() -> float:
    """Encrypt 1 MiB, encapsulate, kfrags 2-of-3, re-encrypt twice, verify, open, decrypt."""
    master, grantee = PatientMasterKey.generate(), UserKeys.generate()
    segment_sk = master.segment_secret_key("labs", 1)
    signer = master.kfrag_signer()
    data = os.urandom(MIB)

    def run() -> None:
        pending = encrypt_segment([data], context=CTX, segment_pk=segment_sk.public_key())
        ciphertext = b"".join(pending.chunks)
        entry = pending.entry()
        kfrags = pre.generate_kfrags(
            segment_sk, grantee.pre.public_key(), signer, threshold=2, shares=3
        )
        keys = {
            "verifying_pk": signer.public_key(),
            "delegating_pk": segment_sk.public_key(),
        }
        cfrags = [
            pre.reencrypt(pending.capsule, k, receiving_pk=grantee.pre.public_key(), **keys)
            for k in kfrags[:2]
        ]
        secret = pre.open_reencrypted(grantee.pre, pending.capsule, cfrags, threshold=2, **keys)
        dec = SegmentDecryptor(
            secret.data_key, CTX, [ciphertext], expected_sha256=bytes.fromhex(entry.sha256)
        )
        for _ in dec:
            pass

    return round(median_seconds(run, 15) * 1000, 2)


def encrypt_2mb_ms() -> float:
    """One 2 MB segment: fresh data key, capsule, stream encryption, SHA-256."""
    pk = PatientMasterKey.generate().segment_public_key("labs", 1)
    data = os.urandom(2_000_000)

    def run() -> None:
        for _ in encrypt_segment([data], context=CTX, segment_pk=pk).chunks:
            pass

    return round(median_seconds(run, 15) * 1000, 2)


def encrypt_record_fixture() -> dict[str, float]:
    """A whole Synthea Bundle: split, keywords, tags, encrypt, sign (with/without validation)."""
    bundle = load_bundle(FIXTURE)
    size = len(json.dumps(bundle, separators=(",", ":")))
    keys = OwnerKeys(PatientMasterKey.generate())
    author = UserKeys.generate().signing

    def run(validate: bool) -> Callable[[], object]:
        return lambda: encrypt_record(
            bundle, patient_id="p", record_id="r", keys=keys, author=author, validate=validate
        )

    return {
        "bundle_bytes": size,
        "resources": len(bundle["entry"]),
        "ms": round(median_seconds(run(False), 5) * 1000, 1),
        "validated_ms": round(median_seconds(run(True), 3) * 1000, 1),
    }


_RSS_CHILD = """
import json, os, resource, time
from phr.crypto.stream import SegmentContext, SegmentEncryptor
block = os.urandom(1 << 20)
def source():
    for _ in range(1024):
        yield block
t0 = time.perf_counter()
enc = SegmentEncryptor(os.urandom(32), SegmentContext("p", "r", "imaging", 1), source())
n = 0
for chunk in enc:
    n += len(chunk)
dt = time.perf_counter() - t0
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as fh:
    hwm_kib = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps({"peak_rss_mib": peak_kib / 1024, "vm_hwm_mib": hwm_kib / 1024,
                  "mbps": (1 << 30) / dt / 1e6, "bytes": n}))
"""


def peak_rss_1gib() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    # First, while this process is small: Linux keeps ru_maxrss across fork+exec, so a
    # child started after the 64 MiB runs would report this process's peak, not its own.
    rss = peak_rss_1gib()
    SegmentSecret.generate()  # import and warm everything before timing
    t1 = throughput(MIB, 41)
    t64 = throughput(64 * MIB, 5)
    record = encrypt_record_fixture()
    print(
        json.dumps(
            {
                "segment_encrypt_mbps_1mib": t1["encrypt"],
                "segment_decrypt_mbps_1mib": t1["decrypt"],
                "raw_aesgcm_sha256_mbps_1mib": t1["raw"],
                "raw_aesgcm_sha256_decrypt_mbps_1mib": t1["raw_decrypt"],
                "ratio_1mib": t1["ratio"],
                "decrypt_ratio_1mib": t1["decrypt_ratio"],
                "segment_encrypt_mbps_64mib": t64["encrypt"],
                "segment_decrypt_mbps_64mib": t64["decrypt"],
                "raw_aesgcm_sha256_mbps_64mib": t64["raw"],
                "raw_aesgcm_sha256_decrypt_mbps_64mib": t64["raw_decrypt"],
                "ratio_64mib": t64["ratio"],
                "decrypt_ratio_64mib": t64["decrypt_ratio"],
                "encrypt_2mb_ms": encrypt_2mb_ms(),
                "share_1mib_ms": share_1mib_ms(),
                "encrypt_record_fixture_ms": record["ms"],
                "encrypt_record_fixture_validated_ms": record["validated_ms"],
                "fixture_bundle_bytes": record["bundle_bytes"],
                "fixture_resources": record["resources"],
                "peak_rss_mib_1gib_segment": round(rss["peak_rss_mib"], 1),
                "peak_vm_hwm_mib_1gib_segment": round(rss["vm_hwm_mib"], 1),
                "stream_encrypt_mbps_1gib": round(rss["mbps"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
