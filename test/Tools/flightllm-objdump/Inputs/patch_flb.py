"""The checksums of docs/binary-format.md, reimplemented from the document.

  patch_flb.py --check FILE             recompute every checksum, compare with
                                        the file, print what matches
  patch_flb.py IN OFFSET VALUE OUT      set byte OFFSET to VALUE, redo every
                                        checksum, write OUT (damage that only
                                        the structural checks can find)
"""
import struct
import sys


def crc32c(data, crc=0):
    """CRC-32C: reflected polynomial 0x82F63B78, init and final XOR ~0."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def checksums(b):
    """(table, [(entry offset, section crc)], file, header) computed from b."""
    header_size, count = struct.unpack_from("<I4xI", b, 12)
    table_offset, = struct.unpack_from("<Q", b, 32)
    entry_size, = struct.unpack_from("<I", b, 48)
    table = bytes(b[table_offset:table_offset + count * entry_size])
    sections = []
    for i in range(count):
        at = table_offset + i * entry_size
        offset, size = struct.unpack_from("<QQ", b, at + 8)
        sections.append((at, crc32c(b[offset:offset + size])))
    whole = bytes(b[:56]) + bytes(8) + bytes(b[64:])
    head = bytes(b[:60]) + bytes(4) + bytes(b[64:header_size])
    return crc32c(table), sections, crc32c(whole), head


def main(argv):
    if argv[1] == "--check":
        b = bytearray(open(argv[2], "rb").read())
        table, sections, whole, head = checksums(b)
        ok = struct.unpack_from("<I", b, 52)[0] == table
        ok &= all(struct.unpack_from("<I", b, at + 28)[0] == crc
                  for at, crc in sections)
        ok &= struct.unpack_from("<I", b, 56)[0] == whole
        ok &= struct.unpack_from("<I", b, 60)[0] == crc32c(head)
        print("checksums match" if ok else "checksums differ")
        return 0 if ok else 1
    b = bytearray(open(argv[1], "rb").read())
    b[int(argv[2], 0)] = int(argv[3], 0)
    table, sections, _, _ = checksums(b)
    for at, crc in sections:
        struct.pack_into("<I", b, at + 28, crc)
    table, _, _, _ = checksums(b)
    struct.pack_into("<I", b, 52, table)
    _, _, whole, _ = checksums(b)
    struct.pack_into("<I", b, 56, whole)
    _, _, _, head = checksums(b)
    struct.pack_into("<I", b, 60, crc32c(head))
    open(argv[4], "wb").write(b)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
