#!/usr/bin/env python3
# Writes the seed corpus of the BGP codec fuzz target (codec_fuzz.cc): byte 0 selects the
# session options (bit 0: 4-octet AS, bit 1: RFC 7606 error handling), the rest is a stream
# of BGP messages. Valid messages of each type and a few malformed ones. Rerun to regenerate.
import os

MARKER = b"\xff" * 16
FOUR_OCTET_REVISED, TWO_OCTET_REVISED, FOUR_OCTET_STRICT = b"\x03", b"\x02", b"\x01"


def message(msg_type, body):
    return MARKER + (19 + len(body)).to_bytes(2, "big") + bytes([msg_type]) + body


def update(withdrawn, attributes, nlri):
    return message(2, len(withdrawn).to_bytes(2, "big") + withdrawn +
                   len(attributes).to_bytes(2, "big") + attributes + nlri)


h = bytes.fromhex
ORIGIN, NEXT_HOP, LOCAL_PREF = h("40010100"), h("400304c0a8ce0a"), h("40050400000064")
AS_PATH4, AS_PATH2 = h("4002060201 0000fc00"), h("40020402 01fc00")
NLRI = h("1a0af40100 1a0af40200")
OPEN = message(1, h("04 fc00 005a c0a8ce0a 18 0216 010400010001 0200 40068078000101 80"
                    " 41040000fc00"))
BIG_AS_OPEN = message(1, h("04 5ba0 0003 0a000001 0e 020c 010400010001 4104fa56ea00"))

CORPUS = {
    "open": FOUR_OCTET_REVISED + OPEN,
    "open_big_as": TWO_OCTET_REVISED + BIG_AS_OPEN,
    "keepalive": FOUR_OCTET_REVISED + message(4, b""),
    "update": FOUR_OCTET_REVISED + update(b"", ORIGIN + AS_PATH4 + NEXT_HOP + LOCAL_PREF, NLRI),
    "update_two_octet_as4_path": TWO_OCTET_REVISED + update(
        b"", ORIGIN + h("400206 0202 fc00 5ba0") + NEXT_HOP + h("c0110a 0202 0000fc00 fa56ea00"),
        NLRI),
    "update_all_attributes": FOUR_OCTET_STRICT + update(
        h("1a0af40900"),
        ORIGIN + AS_PATH4 + NEXT_HOP + h("80040400000032") + LOCAL_PREF + h("400600") +
        h("c00708 fa56ea00 0a000001") + h("c00808 fc000001 ffffff01") + h("800904c0a8ce14") +
        h("800a04c0a8ce0a") + h("800e0e 000101 04 c0a8ce14 00 1a0af40300") +
        h("800f08 000101 1a0af40400") + h("e02004 01020304"), NLRI),
    "withdraw": FOUR_OCTET_REVISED + update(h("1a0af40100"), b"", b""),
    "end_of_rib": FOUR_OCTET_REVISED + update(b"", b"", b""),
    "notification": FOUR_OCTET_REVISED + message(3, h("0602 03627965")),
    "route_refresh": FOUR_OCTET_REVISED + message(5, h("0001 00 01")),
    "stream": TWO_OCTET_REVISED + BIG_AS_OPEN + message(4, b"") +
              update(b"", ORIGIN + AS_PATH2 + NEXT_HOP, NLRI) + message(4, b""),
    "bad_marker": FOUR_OCTET_REVISED + b"\xfe" + message(4, b"")[1:],
    "bad_origin_treat_as_withdraw": FOUR_OCTET_REVISED + update(
        b"", h("40010103") + AS_PATH4 + NEXT_HOP, NLRI),
    "bad_as_path_strict": FOUR_OCTET_STRICT + update(
        b"", ORIGIN + h("4002060501 0000fc00") + NEXT_HOP, NLRI),
    "attribute_overrun": FOUR_OCTET_REVISED + update(b"", h("40010500"), b""),
    "open_bad_version": FOUR_OCTET_REVISED + message(1, h("03 fc00 005a c0a8ce0a 00")),
}

directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), "codec_corpus")
os.makedirs(directory, exist_ok=True)
for name, data in CORPUS.items():
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
