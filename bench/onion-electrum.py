"""
The Electrum anchor of bench/onion.ts: Debian's python3-electrum (4.3.4) building and
peeling the same onions as the toolkit, from the same payload bytes (encoded by the
toolkit, handed to Electrum as raw payloads, so neither side's TLV encoder is timed).
Reads one JSON object on stdin, prints one JSON object on stdout:
  in:  {"seconds", "session", "ad", "node_key", "pubkeys": [hex x20],
        "payloads5": [hex x5], "payloads20": [hex x20]}
  out: {"version", "packet5", "packet20", "next5", "final5", "payload5_fields",
        "rates": {"build5", "build20", "peel"}: {"cpu": per CPU-second, "wall": per second},
        "peel_parts": {"ecdh", "blinding", "tweak_mul", "pubkey"}: µs of CPU per call}
The peel is what Electrum's process_onion_packet does: parse the packet, ECDH, HMAC,
decrypt, decode the TLV payload, the next ephemeral key; plus the next packet's bytes.
Its two curve calls are also timed alone (peel_parts): the shared secret (get_ecdh: the
key decoded, pubkey_tweak_mul by the node key, SHA256), the next ephemeral key
(ECPubkey(E) * b, compressed), and libsecp256k1's pubkey_tweak_mul by itself through ctypes;
and a build's other curve call per hop, E_i = e_i·G (ECPrivkey(e).get_public_key_bytes()).
Run by bench/onion.ts with /usr/bin/python3 (Debian's interpreter, where apt installs it).
"""
import json
import sys
import time

import ctypes

from electrum import ecc, lnonion
from electrum.crypto import sha256
from electrum.lnutil import get_ecdh
from electrum.version import ELECTRUM_VERSION

req = json.load(sys.stdin)
seconds = float(req["seconds"])
session = bytes.fromhex(req["session"])
ad = bytes.fromhex(req["ad"])
node_key = bytes.fromhex(req["node_key"])
pubkeys = [bytes.fromhex(p) for p in req["pubkeys"]]
payloads = {n: [bytes.fromhex(p) for p in req[f"payloads{n}"]] for n in (5, 20)}


def hops_data(n):
    out = []
    for p in payloads[n]:
        h = lnonion.OnionHopsDataSingle(is_tlv_payload=True)
        h._raw_bytes_payload = p
        out.append(h)
    return out


def build(n):
    return lnonion.new_onion_packet(pubkeys[:n], session, hops_data(n), ad).to_bytes()


packet5 = build(5)
packet20 = build(20)


def peel():
    p = lnonion.process_onion_packet(lnonion.OnionPacket.from_bytes(packet5), ad, node_key)
    return p, p.next_packet.to_bytes()


def rate(fn):
    for _ in range(20):
        fn()
    n = 0
    c0, w0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds:
        fn()
        n += 1
    c, w = time.process_time() - c0, time.perf_counter() - w0
    return {"cpu": n / c, "wall": n / w}


def cpu_us(fn):
    r = rate(fn)
    return 1e6 / r["cpu"]


def peel_parts():
    E = packet5[1:34]
    ss = get_ecdh(node_key, E)
    b = int.from_bytes(sha256(E + ss), "big")
    lib = ecc._libsecp256k1
    parsed = ctypes.create_string_buffer(64)
    lib.secp256k1_ec_pubkey_parse(lib.ctx, parsed, E, 33)
    work = ctypes.create_string_buffer(64)
    tweak = b.to_bytes(32, "big")

    def tweak_mul():
        ctypes.memmove(work, parsed, 64)
        lib.secp256k1_ec_pubkey_tweak_mul(lib.ctx, work, tweak)

    return {
        "ecdh": cpu_us(lambda: get_ecdh(node_key, E)),
        "blinding": cpu_us(lambda: (ecc.ECPubkey(E) * b).get_public_key_bytes()),
        "tweak_mul": cpu_us(tweak_mul),
        # What a build does per hop besides get_ecdh (get_shared_secrets_along_route): E_i = e_i·G.
        "pubkey": cpu_us(lambda: ecc.ECPrivkey(session).get_public_key_bytes()),
    }


peeled, next5 = peel()
print(json.dumps({
    "version": ELECTRUM_VERSION,
    "packet5": packet5.hex(),
    "packet20": packet20.hex(),
    "next5": next5.hex(),
    "final5": peeled.are_we_final,
    "payload5_fields": sorted(peeled.hop_data.payload.keys()),
    "rates": {"build5": rate(lambda: build(5)), "build20": rate(lambda: build(20)), "peel": rate(peel)},
    "peel_parts": peel_parts(),
}))
