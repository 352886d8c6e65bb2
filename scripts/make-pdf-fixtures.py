#!/usr/bin/env python3
"""Writes the small PDFs in tests/fixtures (text PDFs of 2 and 5 pages, a scanned-style PDF
with only an image, and one whose trailer names an /Encrypt dictionary). Run from the repo
root; the output is committed, so this is only needed to change the fixtures."""

import os
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")


def pdf(pages, encrypt=False, compress=False):
    """pages: list of content streams (bytes). Returns the PDF bytes."""
    objects = []  # index i holds object i+1

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    page_tree = add(None)
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    image = add(
        b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length 4 >>\nstream\n\x00\xff\xff\x00\nendstream"
    )
    kids = []
    for content in pages:
        data = zlib.compress(content) if compress else content
        filt = b" /Filter /FlateDecode" if compress else b""
        stream = add(b"<< /Length %d%s >>\nstream\n" % (len(data), filt) + data + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                b"/Resources << /Font << /F1 %d 0 R >> /XObject << /Im0 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (page_tree, font, image, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree
    objects[page_tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = add(b"<< /Title (Fixture datasheet) /Producer (make-pdf-fixtures.py) >>")
    enc = None
    if encrypt:
        enc = add(
            b"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 "
            b"/O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>"
        )

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root %d 0 R /Info %d 0 R" % (len(objects) + 1, catalog, info)
    if enc:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (enc, b"ab" * 16, b"ab" * 16)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_page(lines):
    ops = [b"BT /F1 11 Tf 72 770 Td 14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + escaped.encode("cp1252") + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


TWO_PAGES = [
    text_page([
        "Servo motor SM-4820 datasheet",
        "Rated torque 4.8 Nm, rated speed 2000 rpm",
        "Flange 80 mm, IP65",
    ]),
    text_page([
        "Ordering information",
        "Part number SM-4820-B with brake",
    ]),
]

FIVE_PAGES = [
    text_page(["Linear guide LG-25 catalogue", "Overview of the LG series"]),
    text_page(["Page two: carriage LG-25-C", "Dynamic load rating 32 kN"]),
    text_page(["Page three: rail LG-25-R", "Rail lengths up to 4000 mm"]),
    text_page(["Page four: lubrication", "Grease nipple M6 per DIN 71412"]),
    text_page(["Page five: accessories", "End seal LG-25-ES, bellows LG-25-B"]),
]

SCANNED = [b"q 595 0 0 842 0 0 cm /Im0 Do Q"]


def main():
    files = {
        "datasheet_2p.pdf": pdf(TWO_PAGES),
        "catalogue_5p.pdf": pdf(FIVE_PAGES, compress=True),
        "scanned.pdf": pdf(SCANNED),
        "encrypted.pdf": pdf(TWO_PAGES, encrypt=True),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
