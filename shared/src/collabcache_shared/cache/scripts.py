"""The Lua scripts behind leases, fills and stale marks. Each touches exactly one key, but
`MARK_STALE_ALL`, which the entry store runs only on a standalone Redis (all keys on one node).

Leases close the stale-set race ("Scaling Memcache at Facebook", section 3.2.1): a reader that
misses takes a lease on the variant; an invalidation deletes the entry and with it the lease,
so a fill whose database read predates the invalidation finds no lease and is refused.
The same lease tells other readers that a load is in flight (no stampede).
"""

from __future__ import annotations

import hashlib

# KEYS[1] entry; ARGV: variant, token, now_ms, lease_ms, generation, ttl_ms, mode.
# mode "miss": refuse if a valid fresh value is there; "refresh": take a free lease even if
# a value is there; "force": take the lease even if another reader holds it.
# Returns {0} filled meanwhile, {1, g} lease granted (g: the entry's invalidation counter),
# {2, ms} another reader holds a live lease for ms more.
LEASE = """
local key = KEYS[1]
local now = tonumber(ARGV[3])
local lfield = 'l:' .. ARGV[1]
if ARGV[7] == 'miss' then
  local d = redis.call('HGET', key, 'd:' .. ARGV[1])
  if d and redis.call('HEXISTS', key, 's') == 0 then
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
if redis.call('PTTL', key) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', key, ARGV[4])
end
return {1, tonumber(redis.call('HGET', key, 'g') or '0')}
"""

# KEYS[1] entry; ARGV: variant, token, value, entry_ttl_ms, g observed with the lease.
# Returns 1 if stored, 0 if the lease was gone or taken over (the value may be stale).
FILL = """
local key = KEYS[1]
local lfield = 'l:' .. ARGV[1]
local held = redis.call('HGET', key, lfield)
if not held or string.match(held, '^([^:]+):') ~= ARGV[2] then return 0 end
redis.call('HSET', key, 'd:' .. ARGV[1], ARGV[3])
redis.call('HDEL', key, lfield)
if (redis.call('HGET', key, 'g') or '0') == ARGV[5] then
  redis.call('HDEL', key, 's')
end
if redis.call('PTTL', key) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', key, ARGV[4])
end
return 1
"""

# KEYS[1] entry; ARGV: variant, token. Gives a lease back (the loader failed).
RELEASE = """
local lfield = 'l:' .. ARGV[1]
local held = redis.call('HGET', KEYS[1], lfield)
if held and string.match(held, '^([^:]+):') == ARGV[2] then
  redis.call('HDEL', KEYS[1], lfield)
  return 1
end
return 0
"""

# KEYS[1] entry; ARGV: now_ms. For families that may be served stale: keep the value, count
# the invalidation and remember since when it is stale (the first unapplied invalidation).
MARK_STALE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HSETNX', KEYS[1], 's', ARGV[1])
return 1
"""
MARK_STALE_SHA = hashlib.sha1(MARK_STALE.encode(), usedforsecurity=False).hexdigest()  # for EVALSHA

# KEYS: entries; ARGV: now_ms. `MARK_STALE` on each key, in one call (standalone Redis only:
# the keys are in many hash slots). Returns how many existed.
MARK_STALE_ALL = """
local marked = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'g', 1)
    redis.call('HSETNX', key, 's', ARGV[1])
    marked = marked + 1
  end
end
return marked
"""
