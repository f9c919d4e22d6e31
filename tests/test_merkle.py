"""RFC 9162 Merkle hashing and proofs against published known-answer vectors.

The leaves, roots and proofs below are the reference vectors of transparency-dev/merkle,
proof/verify_test.go (github.com/transparency-dev/merkle, Apache-2.0), which are the RFC 6962 /
RFC 9162 test vectors that Certificate Transparency implementations share. Leaf indexes there
are 1-based; here they are converted to 0-based.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest

from soc2opa.evidence.merkle import (
    MerkleTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    roots_at,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index 1-based, tree size, proof)
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
HASHES = [leaf_hash(x) for x in LEAVES]
EMPTY = hashlib.sha256(b"").digest()


def test_tree_heads_match_the_reference_roots() -> None:
    assert root_of([]) == EMPTY
    for size, want in enumerate(ROOTS, start=1):
        assert root_of(HASHES[:size]) == want, size
    assert roots_at(HASHES, range(9)) == {0: EMPTY, **dict(enumerate(ROOTS, start=1))}


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_and_verify(leaf: int, size: int, proof: list[str]) -> None:
    want = [bytes.fromhex(p) for p in proof]
    assert inclusion_proof(leaf - 1, HASHES[:size]) == want
    verify_inclusion(leaf - 1, size, HASHES[leaf - 1], want, ROOTS[size - 1])
    bad = [
        (leaf, size, HASHES[leaf - 1], want),  # wrong index
        (leaf - 1, size * 2, HASHES[leaf - 1], want),  # wrong size
        (leaf - 1, size, leaf_hash(b"WrongLeaf"), want),
        (leaf - 1, size, HASHES[leaf - 1], [*want, ROOTS[size - 1]]),  # trailing root
        (leaf - 1, size, HASHES[leaf - 1], [ROOTS[size - 1], *want]),  # preceding root
    ]
    for i in range(len(want)):
        flipped = list(want)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad.append((leaf - 1, size, HASHES[leaf - 1], flipped))
    if want:
        bad.append((leaf - 1, size, HASHES[leaf - 1], want[:-1]))
    for index, n, h, p in bad:
        with pytest.raises(ProofError):
            verify_inclusion(index, n, h, p, ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(size1: int, size2: int, proof: list[str]) -> None:
    want = [bytes.fromhex(p) for p in proof]
    assert consistency_proof(size1, HASHES[:size2]) == want
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    verify_consistency(size1, size2, root1, root2, want)
    if not want:
        return
    bad = [
        (size1 - 1, size2, root1, root2, want), (size1 + 1, size2, root1, root2, want),
        (size1, size2 * 2, root1, root2, want), (size1, size2, root2, root1, want),
        (size1, size2, EMPTY, root2, want), (size1, size2, root1, EMPTY, want),
        (size1, size2, root1, root2, []), (size1, size2, root1, root2, [*want, root1]),
        (size1, size2, root1, root2, [root2, *want]), (size1, size2, root1, root2, want[:-1]),
    ]  # fmt: skip
    for i in range(len(want)):
        flipped = list(want)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        bad.append((size1, size2, root1, root2, flipped))
    for s1, s2, r1, r2, p in bad:
        with pytest.raises(ProofError):
            verify_consistency(s1, s2, r1, r2, p)


def test_every_proof_of_a_larger_tree_verifies() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(37)]
    roots = roots_at(hashes, range(38))
    for n in range(1, 38):
        for i in range(n):
            verify_inclusion(i, n, hashes[i], inclusion_proof(i, hashes[:n]), roots[n])
        for m in range(n + 1):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(m, hashes[:n]))


def test_one_tree_proves_every_prefix_as_fresh_trees_do() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(37)]
    roots = roots_at(hashes, range(38))
    shared = MerkleTree(hashes)
    for n in range(38):
        assert shared.root(n) == roots[n]
        for i in range(n):
            assert shared.inclusion(i, n) == inclusion_proof(i, hashes[:n])
        for m in range(n + 1):
            assert shared.consistency(m, n) == consistency_proof(m, hashes[:n])
    with pytest.raises(ProofError):
        shared.root(38)
    with pytest.raises(ProofError):
        shared.consistency(5, 38)


def test_a_year_of_checkpoints_hashes_each_node_once() -> None:
    """verify's cost: a checkpoint a day over 10,000 records stays linear (each subtree hash is
    computed once; each checkpoint adds O(log² n) nodes), not 365 rehashes of the prefix."""
    n, days = 10_000, 365
    tree = MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(n)])
    sizes = [round(n * (d + 1) / days) for d in range(days)]
    for old, new in itertools.pairwise(sizes):
        tree.root(new)
        tree.consistency(old, new)
    interior = len(tree._memo)
    assert interior < 2 * n, interior  # 11,988 here; rehashing every prefix: millions
    assert tree.root(n) == root_of(tree.leaves)
