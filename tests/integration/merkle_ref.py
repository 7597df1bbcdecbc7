#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""An independent RFC 9162 (Certificate Transparency v2) Merkle tree.

Written from the RFC text, not from ledger/merkle.c: MTH by the recursive
definition of 2.1.1, PATH and PROOF by the recursive definitions of
2.1.3.1 and 2.1.4.1, verification by the algorithms of 2.1.3.2 and
2.1.4.2.  Python 3 standard library only.

  merkle_ref.py root FILE [--size N]   FILE: one leaf per line, in hex (an
                                       empty line is the empty leaf); print
                                       the root of the first N (all) leaves
  merkle_ref.py check-json FILE        verify the checks in FILE (see
                                       check_json); exit 1 if any fails
  merkle_ref.py selftest               the RFC 6962 / CT reference vectors
"""

import argparse
import functools
import hashlib
import json
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    """RFC 9162 2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(b"\x00" + data)


def node_hash(left, right):
    """RFC 9162 2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return sha256(b"\x01" + left + right)


def split_point(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """The list D[n] of leaf data; sublists are (start, end) pairs."""

    def __init__(self, leaves):
        self.leaves = [bytes(d) for d in leaves]

    @functools.lru_cache(maxsize=None)
    def mth(self, start, end):
        """MTH(D[start:end]) by the recursive definition."""
        n = end - start
        if n == 0:
            return sha256(b"")
        if n == 1:
            return leaf_hash(self.leaves[start])
        k = split_point(n)
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def root(self, n):
        return self.mth(0, n)

    def path(self, m, start, end):
        """PATH(m, D[start:end]), m relative to start (2.1.3.1)."""
        n = end - start
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return self.path(m, start, start + k) + [self.mth(start + k, end)]
        return self.path(m - k, start + k, end) + [self.mth(start, start + k)]

    def subproof(self, m, start, end, b):
        """SUBPROOF(m, D[start:end], b), m relative to start (2.1.4.1)."""
        n = end - start
        if m == n:
            return [] if b else [self.mth(start, end)]
        k = split_point(n)
        if m <= k:
            return (self.subproof(m, start, start + k, b) +
                    [self.mth(start + k, end)])
        return (self.subproof(m - k, start + k, end, False) +
                [self.mth(start, start + k)])

    def inclusion_proof(self, index, size):
        return self.path(index, 0, size)

    def consistency_proof(self, m, n):
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
        return self.subproof(m, 0, n, True)


def verify_inclusion(index, size, hash_, proof, root):
    """RFC 9162 2.1.3.2, step by step.  True when the proof holds."""
    # 1.
    if index >= size:
        return False
    # 2., 3.
    fn, sn, r = index, size - 1, hash_
    # 4.
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 2.1.4.2, step by step, for 0 < first <= second.  The RFC's
    algorithm starts at first < second; for first == second the proof is
    empty (SUBPROOF(m, D[m], true) = {}) and the roots must be equal."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    # 1.
    if not path:
        return False
    path = list(path)
    # 2.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == first_hash and sr == second_hash and sn == 0


# ---- the CLI ----------------------------------------------------------------

def read_leaves(path):
    with open(path, encoding="ascii") as f:
        return [bytes.fromhex(line.strip()) for line in f.read().splitlines()]


def cmd_root(args):
    leaves = read_leaves(args.file)
    size = len(leaves) if args.size is None else args.size
    if size < 0 or size > len(leaves):
        print("merkle_ref: --size %d but the file has %d leaves"
              % (size, len(leaves)), file=sys.stderr)
        return 2
    print(Tree(leaves).root(size).hex())
    return 0


def hexes(values):
    return [bytes.fromhex(v) for v in values]


def check_inclusion(c, tree):
    """Problems with one inclusion check, as a list of strings."""
    index, size = int(c["index"]), int(c["size"])
    leaf, root = bytes.fromhex(c["leaf_hash"]), bytes.fromhex(c["root"])
    proof = hexes(c["proof"])
    bad = []
    if not verify_inclusion(index, size, leaf, proof, root):
        bad.append("does not verify")
    if tree is not None:
        if size > len(tree.leaves) or index >= size:
            return bad + ["index/size outside the leaves given"]
        if leaf != leaf_hash(tree.leaves[index]):
            bad.append("leaf_hash differs")
        if root != tree.root(size):
            bad.append("root differs")
        if proof != tree.inclusion_proof(index, size):
            bad.append("proof differs from PATH(m, D[n])")
    return bad


def check_consistency(c, tree):
    m, n = int(c["m"]), int(c["n"])
    root_m, root_n = bytes.fromhex(c["root_m"]), bytes.fromhex(c["root_n"])
    proof = hexes(c["proof"])
    bad = []
    if not verify_consistency(m, n, root_m, root_n, proof):
        bad.append("does not verify")
    if tree is not None:
        if n > len(tree.leaves) or m == 0 or m > n:
            return bad + ["m/n outside the leaves given"]
        if root_m != tree.root(m) or root_n != tree.root(n):
            bad.append("a root differs")
        if proof != tree.consistency_proof(m, n):
            bad.append("proof differs from PROOF(m, D[n])")
    return bad


def cmd_check_json(args):
    """{"leaves_hex": [...] (optional), "checks": [{"kind": "inclusion",
    "index", "size", "leaf_hash", "proof", "root"} or {"kind":
    "consistency", "m", "n", "root_m", "root_n", "proof"}]}"""
    with open(args.file, encoding="utf-8") as f:
        doc = json.load(f)
    tree = None
    if "leaves_hex" in doc:
        tree = Tree(hexes(doc["leaves_hex"]))
    failed = 0
    for i, c in enumerate(doc["checks"]):
        kind = c.get("kind")
        try:
            if kind == "inclusion":
                what = "inclusion index=%s size=%s" % (c["index"], c["size"])
                bad = check_inclusion(c, tree)
            elif kind == "consistency":
                what = "consistency m=%s n=%s" % (c["m"], c["n"])
                bad = check_consistency(c, tree)
            else:
                what, bad = "check %d" % i, ["unknown kind %r" % kind]
        except (KeyError, TypeError, ValueError) as e:
            what, bad = "check %d" % i, ["malformed: %r" % e]
        print("%s %s%s" % ("FAIL" if bad else "ok", what,
                           ": " + "; ".join(bad) if bad else ""))
        failed += bool(bad)
    print("%d checks, %d failed" % (len(doc["checks"]), failed))
    return 1 if failed else 0


# ---- self test --------------------------------------------------------------

# The RFC 6962 / CT reference tree, as in certificate-transparency-go and
# transparency-dev/merkle (proof/verify_test.go); leaves are numbered from
# 0 here, from 1 there.
VEC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
VEC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VEC_INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
VEC_CONSISTENCY = [  # (m, n, proof)
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
    (1, 1, []),
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def flip(proof, i):
    p = list(proof)
    p[i] = bytes([p[i][0] ^ 0x10]) + p[i][1:]
    return p


def spoilt_inclusion(tree, index, size, proof):
    """Every spoilt variant must fail."""
    leaf, root = leaf_hash(tree.leaves[index]), tree.root(size)
    cases = [(index, size, leaf, flip(proof, i), root)
             for i in range(len(proof))]
    cases += [(index, size, leaf, proof + [root], root),
              (index, size, leaf, [leaf] + proof, root),
              (index, size, sha256(b"other"), proof, root),
              (index, size, leaf, proof, tree.root(size - 1))]
    if proof:
        cases.append((index, size, leaf, proof[:-1], root))
    for j in (index - 1, index + 1, index ^ 1):
        if 0 <= j != index:
            cases.append((j, size, leaf, proof, root))
    return all(not verify_inclusion(*c) for c in cases)


def spoilt_consistency(tree, m, n, proof):
    rm, rn = tree.root(m), tree.root(n)
    cases = [(m, n, rm, rn, flip(proof, i)) for i in range(len(proof))]
    cases += [(m, n, rm, rn, proof + [rn]), (m, n, rm, rn, [rm] + proof)]
    if proof:
        cases.append((m, n, rm, rn, proof[:-1]))
    if m != n:
        cases += [(m, n, rn, rm, proof), (m, n, rm, tree.root(n - 1), proof)]
    return all(not verify_consistency(*c) for c in cases)


def selftest_vectors():
    tree = Tree(hexes(VEC_LEAVES))
    bad = []
    if tree.root(0).hex() != EMPTY_ROOT:
        bad.append("empty root")
    for i, want in enumerate(VEC_ROOTS):
        if tree.root(i + 1).hex() != want:
            bad.append("root of size %d" % (i + 1))
    for index, size, want in VEC_INCLUSION:
        proof = hexes(want)
        if tree.inclusion_proof(index, size) != proof:
            bad.append("PATH(%d, D[%d])" % (index, size))
        if not verify_inclusion(index, size, leaf_hash(tree.leaves[index]),
                                proof, tree.root(size)):
            bad.append("verify inclusion %d %d" % (index, size))
    for m, n, want in VEC_CONSISTENCY:
        proof = hexes(want)
        if tree.consistency_proof(m, n) != proof:
            bad.append("PROOF(%d, D[%d])" % (m, n))
        if not verify_consistency(m, n, tree.root(m), tree.root(n), proof):
            bad.append("verify consistency %d %d" % (m, n))
    return bad


def selftest_small(limit=24):
    """Generators against verifiers, and spoilt proofs, for small trees."""
    tree = Tree([str(i).encode() for i in range(limit)])
    bad = []
    for n in range(1, limit + 1):
        for i in range(n):
            p = tree.inclusion_proof(i, n)
            if not verify_inclusion(i, n, leaf_hash(tree.leaves[i]), p,
                                    tree.root(n)):
                bad.append("inclusion %d %d" % (i, n))
            elif not spoilt_inclusion(tree, i, n, p):
                bad.append("spoilt inclusion %d %d verifies" % (i, n))
        for m in range(1, n + 1):
            p = tree.consistency_proof(m, n)
            if not verify_consistency(m, n, tree.root(m), tree.root(n), p):
                bad.append("consistency %d %d" % (m, n))
            elif not spoilt_consistency(tree, m, n, p):
                bad.append("spoilt consistency %d %d verifies" % (m, n))
    return bad


def cmd_selftest(args):
    bad = selftest_vectors() + selftest_small()
    for b in bad:
        print("FAIL", b)
    print("selftest:", "FAIL" if bad else "ok")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("root", help="root of the leaves in FILE")
    p.add_argument("file")
    p.add_argument("--size", type=int)
    p.set_defaults(fn=cmd_root)
    p = sub.add_parser("check-json", help="verify proofs in a JSON file")
    p.add_argument("file")
    p.set_defaults(fn=cmd_check_json)
    p = sub.add_parser("selftest", help="the RFC 6962 / CT vectors")
    p.set_defaults(fn=cmd_selftest)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
