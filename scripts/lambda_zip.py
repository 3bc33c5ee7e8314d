#!/usr/bin/env python3
"""Packs a Lambda `bootstrap` as the zip Lambda expects, byte for byte reproducibly.

    lambda_zip.py BOOTSTRAP ARCH DEST.zip      (ARCH: arm64 or x86_64)
    lambda_zip.py --extract ZIP DIR            unpack DIR/bootstrap as Lambda would see it

Refuses a file that is not a 64-bit ELF executable for ARCH. The zip has one entry,
`bootstrap`, at the root: a regular file with mode 0755 (Lambda runs it as is), made on
Unix, stamped with SOURCE_DATE_EPOCH (else 1980-01-01) as UTC, deflated at level 9, with
no extra fields. So the same bootstrap always gives the same zip (with the same zlib).
--extract checks that a zip is that shape (one entry, `bootstrap`, mode 0755) and unpacks
it with that mode, so tests run the binary users deploy.
"""

from __future__ import annotations

import os
import struct
import sys
import time
import zipfile

ELF_MACHINE = {"arm64": 183, "x86_64": 62}
DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can carry


def extract(src: str, dest: str) -> int:
    with zipfile.ZipFile(src) as z:
        entries = z.infolist()
        if [e.filename for e in entries] != ["bootstrap"]:
            sys.exit(f"lambda_zip: {src} holds {[e.filename for e in entries]}, not just bootstrap")
        mode = entries[0].external_attr >> 16
        if mode != 0o100755:
            sys.exit(f"lambda_zip: {src}: bootstrap has mode {oct(mode)}, not 0o100755")
        os.makedirs(dest, exist_ok=True)
        path = z.extract(entries[0], dest)
    os.chmod(path, mode & 0o777)
    print(path)
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--extract":
        return extract(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 4 or sys.argv[2] not in ELF_MACHINE:
        sys.exit(__doc__)
    path, arch, dest = sys.argv[1:]
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit(f"lambda_zip: {path} is not a 64-bit ELF file")
    machine = struct.unpack("<H", data[18:20])[0]
    if machine != ELF_MACHINE[arch]:
        sys.exit(f"lambda_zip: {path} is for ELF machine {machine}, not {arch} ({ELF_MACHINE[arch]})")
    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", DOS_EPOCH)), DOS_EPOCH)
    entry = zipfile.ZipInfo("bootstrap", date_time=time.gmtime(epoch)[:6])
    entry.create_system = 3  # Unix, so that the mode below is read
    entry.external_attr = 0o100755 << 16  # regular file, rwxr-xr-x
    entry.compress_type = zipfile.ZIP_DEFLATED
    tmp = dest + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(entry, data, compresslevel=9)
    os.replace(tmp, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
