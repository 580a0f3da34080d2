"""Setup and Re-encryption Server node: sealed kfrags, ACL checks, re-encryption.

One of N nodes (default 3, threshold 2), each its own process, port, database and keys.
A node keeps only its own sealed kfrag of each grant (learnt from ``acl.granted``, after
checking the patient's signature on the grant document), applies revocations at once,
and re-encrypts a record's capsule for a grantee after the ACL check
(``POST /v1/reencrypt``). One node alone can re-encrypt nothing; no node ever sees a
data key; even ``t`` colluding nodes obtain only cfrags for the grantee's key, useless
without his secret key and the ciphertext. Group grants trust the KGC's attributes.
Every decision is published: one ``access.decided`` per request (plus ``access.breakglass``).
"""
