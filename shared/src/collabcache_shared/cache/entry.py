"""How a cached response is stored: the exact JSON body bytes behind a small header.

A field `d:<variant>` of an entry hash holds `<generation>:<filled_ms>:<etag>:<body>`: the
family generation observed when the lease was taken (an entry filled before a family was
retired is never valid), the fill time (per-variant TTL and the `Age` header) and the content
hash (the ETag), so a hit returns the bytes without re-serializing anything. A family whose
entries are never served as they are stores an empty ETag (`FamilyPolicy.stores_etag`: the
users' standings, README "Standing records").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The fields of an entry hash (the Lua scripts in `scripts` are written with these names).
DATA = "d:"  # + variant: the cached response
LEASE = "l:"  # + variant: `<token>:<expiry_ms>` of the reader loading it
STALE_SINCE = "s"  # ms since which the entry is stale (families served stale)
GENERATION = "g"  # how many times the entry was invalidated (marked stale)
FENCE = "f:"  # + token: a write's fence
FENCE_COUNT = "f"  # how many fences are up
EXPIRY_SET = "e"  # the first fill has set the entry's expiry
CERTIFIED = "c:"  # + event id: a committed write's clear certified every value filled since


def etag_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    generation: int
    filled_ms: int
    etag: str
    body: bytes

    def encode(self) -> bytes:
        return b"%d:%d:%s:" % (self.generation, self.filled_ms, self.etag.encode()) + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        try:
            generation, filled, etag, body = raw.split(b":", 3)
            return cls(int(generation), int(filled), etag.decode(), body)
        except ValueError:
            return None  # written by another version: treated as a miss

    def age_ms(self, now_ms: int) -> int:
        return max(0, now_ms - self.filled_ms)
