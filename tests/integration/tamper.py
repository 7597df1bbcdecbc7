#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Edit an agent's spool as an attacker with root would: delete one record,
modify one (fixing its CRC so only the signature can tell), swap two, and
cut the last record in half. usage: tamper.py SPOOL_DIR"""
import glob
import os
import struct
import sys

CRC_POLY = 0x82F63B78


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ CRC_POLY if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def records(buf):
    out, off = [], 0
    while off + 12 <= len(buf) and buf[off:off + 4] == b"MYE1":
        n = struct.unpack(">I", buf[off + 4:off + 8])[0]
        out.append(bytearray(buf[off:off + n]))
        off += n
    return out


def fix_crc(rec):
    rec[8:12] = struct.pack(">I", crc32c(bytes(rec[12:])))


def main():
    segs = sorted(glob.glob(os.path.join(sys.argv[1], "seg-*.log")))
    path = segs[-1]
    with open(path, "rb") as f:
        recs = records(f.read())
    if len(recs) < 12:
        print(f"only {len(recs)} records in {path}")
        return 1
    # Modify a body byte (an 'e' of "event") and fix the CRC: forged.
    body = recs[3]
    i = body.find(b'"message"')
    body[i + 2] ^= 0x20
    fix_crc(body)
    # Delete record 6: a gap and a chain break.
    del recs[6]
    # Swap records 8 and 9: out of order, the agent's recovery cuts there.
    recs[8], recs[9] = recs[9], recs[8]
    with open(path, "wb") as f:
        for r in recs:
            f.write(r)
    print(f"tampered {path}: modified record 4, deleted record 7, "
          f"swapped records 9 and 10 of {len(recs) + 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
