"""RFC 9162 Merkle trees: tree heads, inclusion and consistency proofs, and their verification.

Hashing is RFC 9162 section 2.1.1 (the same as RFC 6962): a leaf is SHA-256(0x00 || data), an
interior node SHA-256(0x01 || left || right), and the empty tree SHA-256(""). Proof generation
follows sections 2.1.3.1 and 2.1.4.1, verification sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash over leaf hashes (MTH of the leaves they hash)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    return roots_at(hashes, [len(hashes)])[len(hashes)]


def roots_at(hashes: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The tree hash at each size, in one pass over the leaf hashes (a compact range)."""
    wanted = set(sizes)
    out: dict[int, bytes] = {}
    if 0 in wanted:
        out[0] = hashlib.sha256(b"").digest()
    stack: list[tuple[int, bytes]] = []
    for count, leaf in enumerate(hashes, start=1):
        height, node = 0, leaf
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
        if count in wanted:
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = node_hash(left, root)
            out[count] = root
    return out


class MerkleTree:
    """The leaf hashes of a log, with every subtree hash computed once and kept: tree heads,
    inclusion and consistency proofs for any prefix then cost O(log² n) hashes each, instead of
    rehashing the prefix for every checkpoint."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves
        self._memo: dict[tuple[int, int], bytes] = {}

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH of leaves[lo:hi] (lo < hi), split as RFC 9162 splits it."""
        if hi - lo == 1:
            return self.leaves[lo]
        found = self._memo.get((lo, hi))
        if found is None:
            k = _split(hi - lo)
            found = node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))
            self._memo[(lo, hi)] = found
        return found

    def _size(self, size: int) -> None:
        if not 0 <= size <= len(self.leaves):
            raise ProofError(f"size {size} is not within a tree of size {len(self.leaves)}")

    def root(self, size: int) -> bytes:
        """The tree head of the first `size` leaves."""
        self._size(size)
        return self.subtree(0, size) if size else hashlib.sha256(b"").digest()

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]): the audit path of leaf `index` in the first `size` leaves."""
        self._size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of size {size}")
        path, lo, hi = [], 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.subtree(lo, lo + k))
                lo += k
        return path[::-1]

    def consistency(self, old_size: int, size: int) -> list[bytes]:
        """PROOF(old_size, D[size]): the first `old_size` leaves are a prefix of the first
        `size` (RFC 9162 2.1.4.1's SUBPROOF, walked from the top)."""
        self._size(size)
        if not 0 <= old_size <= size:
            raise ProofError(f"size {old_size} is not within a tree of size {size}")
        if old_size in (0, size):
            return []
        path, lo, hi, m, complete = [], 0, size, old_size, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                path.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.subtree(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        if not complete:
            path.append(self.subtree(lo, hi))
        return path[::-1]


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index` (0-based) in the tree of these leaf hashes."""
    return MerkleTree(hashes).inclusion(index, len(hashes))


def consistency_proof(old_size: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first `old_size` leaves is a prefix of this tree."""
    return MerkleTree(hashes).consistency(old_size, len(hashes))


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2); ProofError if it is malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    if len(leaf) != 32 or any(len(p) != 32 for p in proof):
        raise ProofError("a hash in the proof is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is high")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless the leaf hash is at `index` of the tree with this root."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("the inclusion proof leads to another root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless the old tree is a prefix of the new one (RFC 9162 2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} is not within size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes take an empty proof")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots")
        return
    if old_size == 0:
        if proof:
            raise ProofError("an empty old tree takes an empty proof")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    if any(len(p) != 32 for p in proof):
        raise ProofError("a hash in the proof is not 32 bytes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is high")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")
