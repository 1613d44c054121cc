"""The Lua scripts behind lookups, leases, fills, write fences and invalidations (README, "The
fenced cache protocol"). Each call touches one key on a cluster; on a standalone Redis `LOOKUP`
and `INVALIDATE` take many keys in one call (there are no hash slots there).

Leases close the stale-set race ("Scaling Memcache at Facebook", section 3.2.1): a reader that
misses takes a lease on the variant; an invalidation deletes the entry and with it the lease,
so a fill whose database read predates the invalidation finds no lease and is refused.
The same lease tells other readers that a load is in flight (no stampede).

Fences close it for writes that have not committed yet: before committing, a write places a
fence (field `f:<token>`, counted in `f`) on every entry it will invalidate, dropping what the
entry held. While any fence is up, no lease is granted and no fill lands; the write clears its
own fence after committing (dropping the entry with it). A fence whose clear is lost expires
with the entry (PEXPIRE, Redis's own clock): the write must have committed by then.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from . import entry

# The entry hash's field names, named once in `entry`: each script is written with `${NAME}`
# and rendered once, when this module is imported (never per call).
FIELDS = {
    "DATA": entry.DATA,
    "LEASE": entry.LEASE,
    "STALE_SINCE": entry.STALE_SINCE,
    "GENERATION": entry.GENERATION,
    "FENCE": entry.FENCE,
    "FENCE_COUNT": entry.FENCE_COUNT,
    "EXPIRY_SET": entry.EXPIRY_SET,
    "CERTIFIED": entry.CERTIFIED,
}


def render(script: str, fields: Mapping[str, str] = FIELDS) -> str:
    """The script with each `${NAME}` replaced by that field's name (inside a Lua string
    between single quotes; a `$` of a Lua pattern stays as it is). KeyError: unknown name."""
    for name, value in fields.items():
        if not value or "'" in value or "\\" in value:
            raise ValueError(f"{name}={value!r} cannot be a Lua string literal")
    return re.sub(r"\$\{(\w+)\}", lambda placeholder: fields[placeholder[1]], script)


# KEYS[1] entry; ARGV: variant, token, now_ms, lease_ms, generation, ttl_ms, mode, fence_s.
# mode "miss": refuse if a valid fresh value is there; "refresh": take a free lease even if
# a value is there; "force": take the lease even if another reader holds it.
# Returns {0} filled meanwhile, {1, g} lease granted (g: the entry's invalidation counter),
# {2, ms} another reader holds a live lease for ms more, {3} fenced (load, answer, no fill).
# A server up for less than fence_s seconds counts as fenced everywhere: a restart loses the
# fences it held, and a write fenced before it may not have committed yet (its commit deadline
# is within fence_s of its fence, so before this server's uptime reaches fence_s).
# A lease keeps a new entry alive for lease_ms; it never moves the expiry a fill has set.
LEASE = render("""
local key = KEYS[1]
if redis.call('HEXISTS', key, '${FENCE_COUNT}') == 1 then return {3} end
local uptime = string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')
if tonumber(uptime) < tonumber(ARGV[8]) then return {3} end
local now = tonumber(ARGV[3])
local lfield = '${LEASE}' .. ARGV[1]
if ARGV[7] == 'miss' then
  local d = redis.call('HGET', key, '${DATA}' .. ARGV[1])
  if d and redis.call('HEXISTS', key, '${STALE_SINCE}') == 0 then
    local gen, filled = string.match(d, '^(%d+):(%d+):')
    if gen and gen == ARGV[5] and now - tonumber(filled) <= tonumber(ARGV[6]) then
      return {0}
    end
  end
end
if ARGV[7] ~= 'force' then
  local held = redis.call('HGET', key, lfield)
  if held then
    local expiry = tonumber(string.match(held, ':(%d+)$'))
    if expiry and expiry > now then return {2, expiry - now} end
  end
end
redis.call('HSET', key, lfield, ARGV[2] .. ':' .. tostring(now + tonumber(ARGV[4])))
local unfilled = redis.call('HEXISTS', key, '${EXPIRY_SET}') == 0
if unfilled and redis.call('PTTL', key) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', key, ARGV[4])
end
return {1, tonumber(redis.call('HGET', key, '${GENERATION}') or '0')}
""")

# KEYS[1] entry; ARGV: variant, token, value, entry_ttl_ms, g observed with the lease,
# max_fields. Returns 1 stored; 2 the lease was still valid but the entry is full (a new
# variant is not stored: the response is still fresh); 0 refused (lease gone, taken over or
# fenced: the value may be stale). The first fill sets the entry's expiry; later fills never
# extend it, so no entry outlives its family TTL counted from its first fill.
FILL = render("""
local key = KEYS[1]
local lfield = '${LEASE}' .. ARGV[1]
local dfield = '${DATA}' .. ARGV[1]
local held = redis.call('HGET', key, lfield)
if not held or string.match(held, '^([^:]+):') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', key, '${FENCE_COUNT}') == 1 then return 0 end
redis.call('HDEL', key, lfield)
if redis.call('HEXISTS', key, dfield) == 0 and redis.call('HLEN', key) >= tonumber(ARGV[6]) then
  return 2
end
redis.call('HSET', key, dfield, ARGV[3])
if (redis.call('HGET', key, '${GENERATION}') or '0') == ARGV[5] then
  redis.call('HDEL', key, '${STALE_SINCE}')
end
if redis.call('HSETNX', key, '${EXPIRY_SET}', 1) == 1 then
  redis.call('PEXPIRE', key, ARGV[4])
end
return 1
""")

# KEYS[1] entry; ARGV: variant, token. Gives a lease back (the loader failed).
RELEASE = render("""
local lfield = '${LEASE}' .. ARGV[1]
local held = redis.call('HGET', KEYS[1], lfield)
if held and string.match(held, '^([^:]+):') == ARGV[2] then
  redis.call('HDEL', KEYS[1], lfield)
  return 1
end
return 0
""")

# KEYS: entries; ARGV: op, now_ms, fence_ms, token, first_stale, then one per key: the ids of
# the events that affect it, space-separated ('' for none).
# Keys before index `first_stale` (1-based) are dropped; from it on they belong to families
# served stale (analytics), which keep their value and are marked stale (`g` counts the
# invalidations, `s` says since when) for every op.
# op "fence": drop the entry and put up this write's fence (`f:<token>`, counted in `f`) for
#   at least fence_ms. "clear": take this write's fence down; the entry is dropped, or kept
#   holding only the other writes' fences. Once dropped, it is certified for the write's events
#   (`c:<event id>`, for fence_ms): whatever is filled there from now on was loaded after the
#   commit. "drop" (the invalidator's, and writes made without a fence): drop the entry unless
#   a fence is up (a fenced entry holds nothing else), or unless it is certified for every
#   event of the drop (that write's own clear came first: the certificates are used up, the
#   values filled since stay). A lost clear, a fence that expired, another write's fence or a
#   restart leaves no certificate: the drop goes ahead (README, "The fenced cache protocol").
# Returns how many keys it changed (callers count the keys they addressed instead).
INVALIDATE = render("""
local op, now, fence_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local mine, first_stale = '${FENCE}' .. ARGV[4], tonumber(ARGV[5])
local function certified(key, events)
  local fields = {}
  for id in string.gmatch(events, '%S+') do
    fields[#fields + 1] = '${CERTIFIED}' .. id
    if redis.call('HEXISTS', key, fields[#fields]) == 0 then return false end
  end
  if #fields == 0 then return false end
  redis.call('HDEL', key, unpack(fields))
  return true
end
local changed = 0
for i, key in ipairs(KEYS) do
  local events = ARGV[5 + i] or ''
  if i >= first_stale then
    if redis.call('EXISTS', key) == 1 then
      redis.call('HINCRBY', key, '${GENERATION}', 1)
      redis.call('HSETNX', key, '${STALE_SINCE}', now)
      changed = changed + 1
    end
  else
    local fences = tonumber(redis.call('HGET', key, '${FENCE_COUNT}') or '0')
    if op == 'fence' then
      if fences == 0 then
        redis.call('UNLINK', key)
        redis.call('HSET', key, '${FENCE_COUNT}', 1, mine, 1)
        redis.call('PEXPIRE', key, fence_ms)
      else
        if redis.call('HSETNX', key, mine, 1) == 1 then
          redis.call('HINCRBY', key, '${FENCE_COUNT}', 1)
        end
        if redis.call('PTTL', key) < fence_ms then redis.call('PEXPIRE', key, fence_ms) end
      end
      changed = changed + 1
    elseif op == 'clear' then
      if redis.call('HDEL', key, mine) == 1 then fences = fences - 1 end
      if fences <= 0 then
        changed = changed + redis.call('UNLINK', key)
        for id in string.gmatch(events, '%S+') do
          redis.call('HSET', key, '${CERTIFIED}' .. id, 1)
        end
        if events ~= '' then redis.call('PEXPIRE', key, fence_ms) end
      else
        redis.call('HSET', key, '${FENCE_COUNT}', fences)
      end
    elseif fences == 0 and not certified(key, events) then
      changed = changed + redis.call('UNLINK', key)
    end
  end
end
return changed
""")
INVALIDATE_SHA = hashlib.sha1(INVALIDATE.encode(), usedforsecurity=False).hexdigest()  # EVALSHA

# A read's lookup on a standalone Redis, in one command (a cluster pipelines HMGET and GET per
# entry instead). KEYS: entry, generation, entry, generation, ...; ARGV: each entry's data
# field in order, then the stale-since field. Returns, per entry: data, stale-since, generation
# (nil where absent).
LOOKUP = """
local stale = ARGV[#ARGV]
local out = {}
for i = 1, #KEYS, 2 do
  local got = redis.call('HMGET', KEYS[i], ARGV[(i + 1) / 2], stale)
  out[#out + 1] = got[1]
  out[#out + 1] = got[2]
  out[#out + 1] = redis.call('GET', KEYS[i + 1])
end
return out
"""
LOOKUP_SHA = hashlib.sha1(LOOKUP.encode(), usedforsecurity=False).hexdigest()  # EVALSHA
