"""RFC 6962 / RFC 9162 known answers, and proofs for every size 1..64 against a naive tree.

The 8 leaves and roots are the Certificate Transparency test vectors (RFC 6962 test
data, also transparency-dev/merkle testonly/constants.go): root(0) is SHA-256(""),
root(1) is SHA-256(0x00 || "") = the hash of the empty leaf.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phr.ledger import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
#: RFC 6962 / CT vectors: audit paths in the 8-leaf tree
INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


# ---------------------------------------------------------------- naive reference


def naive_root(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(naive_root(hashes[:k]), naive_root(hashes[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return [*naive_path(m, d[:k]), naive_root(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_root(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [naive_root(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_root(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_root(d[:k])]


def node_store(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete node, as the ledger stores them (via the compact range)."""
    nodes: dict[tuple[int, int], bytes] = {}
    cr = merkle.CompactRange()
    for h in hashes:
        cr.append(h, lambda lv, i, x: nodes.__setitem__((lv, i), x))
    return nodes


HASHES = [merkle.leaf_hash(bytes([i, i * 7 % 256])) for i in range(64)]
NODES = node_store(HASHES)


def get(level: int, index: int) -> bytes:
    return NODES[(level, index)]


# ---------------------------------------------------------------- known answers


def test_empty_tree_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle.root([]).hex() == ROOTS[0]


def test_leaf_and_node_prefixes() -> None:
    assert merkle.leaf_hash(b"").hex() == ROOTS[1]  # SHA-256(0x00)
    assert merkle.leaf_hash(b"").hex() == hashlib.sha256(b"\x00").hexdigest()
    a, b = merkle.leaf_hash(LEAVES[0]), merkle.leaf_hash(LEAVES[1])
    assert merkle.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.node_hash(a, b).hex() == ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_reference_tree(size: int) -> None:
    assert merkle.root(LEAVES[:size]).hex() == ROOTS[size]
    cr = merkle.CompactRange()
    for leaf in LEAVES[:size]:
        cr.append(merkle.leaf_hash(leaf))
    assert cr.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_reference_inclusion_paths(index: int, size: int) -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    nodes = node_store(hashes)
    path = merkle.inclusion_proof(index, size, lambda lv, i: nodes[(lv, i)])
    assert [p.hex() for p in path] == INCLUSION[(index, size)]
    merkle.verify_inclusion(index, size, hashes[index], path, bytes.fromhex(ROOTS[size]))


# ---------------------------------------------------------------- every size 1..64


@pytest.mark.parametrize("size", range(1, 65))
def test_inclusion_every_leaf(size: int) -> None:
    d = HASHES[:size]
    root = naive_root(d)
    assert merkle.tree_root(size, get) == root == merkle.root_from_leaf_hashes(d)
    for m in range(size):
        proof = merkle.inclusion_proof(m, size, get)
        assert proof == naive_path(m, d)
        assert len(merkle.inclusion_nodes(m, size)) <= 2 * size.bit_length()
        merkle.verify_inclusion(m, size, d[m], proof, root)
        with pytest.raises(merkle.ProofInvalid):  # wrong-leaf
            merkle.verify_inclusion(m, size, merkle.leaf_hash(b"x"), proof, root)
        if proof:
            with pytest.raises(merkle.ProofInvalid):  # truncated-proof
                merkle.verify_inclusion(m, size, d[m], proof[:-1], root)
            with pytest.raises(merkle.ProofInvalid):  # wrong-index
                merkle.verify_inclusion(m ^ 1 if m ^ 1 < size else m - 1, size, d[m], proof, root)
        with pytest.raises(merkle.ProofInvalid):  # extended-proof
            merkle.verify_inclusion(m, size, d[m], [*proof, root], root)


@pytest.mark.parametrize("new", range(1, 65))
def test_consistency_every_pair(new: int) -> None:
    new_root = naive_root(HASHES[:new])
    for old in range(1, new + 1):
        old_root = naive_root(HASHES[:old])
        proof = merkle.consistency_proof(old, new, get)
        assert proof == (naive_subproof(old, HASHES[:new], True) if old < new else [])
        merkle.verify_consistency(old, new, old_root, new_root, proof)
        if old < new:
            with pytest.raises(merkle.ProofInvalid):  # swapped-roots
                merkle.verify_consistency(old, new, new_root, old_root, proof)
            with pytest.raises(merkle.ProofInvalid):  # truncated-proof
                merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])
            with pytest.raises(merkle.ProofInvalid):  # wrong old root
                merkle.verify_consistency(old, new, merkle.leaf_hash(b"x"), new_root, proof)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, 3, get)
    with pytest.raises(merkle.ProofInvalid):
        merkle.verify_inclusion(0, 0, HASHES[0], [], merkle.EMPTY_ROOT)
    with pytest.raises(merkle.ProofInvalid):
        merkle.verify_consistency(5, 3, HASHES[0], HASHES[1], [])
    with pytest.raises(merkle.ProofInvalid):  # meaningless: it would accept any old root
        merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, naive_root(HASHES[:5]), [])


def test_hashes_of_any_other_length_are_refused() -> None:
    size, m = 8, 3
    proof = merkle.inclusion_proof(m, size, get)
    root = merkle.tree_root(size, get)
    merkle.verify_inclusion(m, size, HASHES[m], proof, root)
    with pytest.raises(merkle.ProofInvalid):  # a 33-byte leaf hash
        merkle.verify_inclusion(m, size, HASHES[m] + b"\x00", proof, root)
    with pytest.raises(merkle.ProofInvalid):  # one proof node of 31 bytes
        merkle.verify_inclusion(m, size, HASHES[m], [proof[0][:-1], *proof[1:]], root)
    cons = merkle.consistency_proof(3, 8, get)
    with pytest.raises(merkle.ProofInvalid):
        merkle.verify_consistency(3, 8, merkle.tree_root(3, get), root, [cons[0] * 2, *cons[1:]])


def test_sizes_beyond_uint64_are_refused() -> None:
    with pytest.raises(merkle.ProofInvalid):
        merkle.verify_inclusion(0, 1 << 64, HASHES[0], [], HASHES[0])
    with pytest.raises(merkle.ProofInvalid):
        merkle.verify_consistency(1, 1 << 64, HASHES[0], HASHES[0], [HASHES[1]])


@given(
    st.integers(min_value=-2, max_value=1 << 65),
    st.integers(min_value=-2, max_value=1 << 65),
    st.lists(st.binary(min_size=30, max_size=34), max_size=70),
    st.binary(max_size=40),
)
def test_any_input_raises_only_proof_invalid(a: int, b: int, proof: list[bytes], h: bytes) -> None:
    for call in (
        lambda: merkle.verify_inclusion(a, b, h, proof, h),
        lambda: merkle.verify_consistency(a, b, h, h, proof),
    ):
        try:
            call()
        except merkle.ProofInvalid:
            pass
