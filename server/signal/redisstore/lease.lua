-- lease.lua: a node's lease, and the one race it must win or lose
-- cleanly: a node whose lease lapsed (it lost Redis, or stopped) takes it
-- back only if no other node has started reaping its sessions, and a node
-- reaps another only if that one has not taken its lease back.
--
-- KEYS: none (keys from the prefix). ARGV[1]: the key prefix; ARGV[2]: the
-- operation; ARGV[3]: the node it is about; ARGV[4]: the lease's TTL (ms);
-- ARGV[5]: the lease's value (renew, reclaim: the node's description);
-- ARGV[6]: now (ms, the caller's clock, for the nodes index).
--   renew    extend the node's lease; 0 if it had lapsed
--   reclaim  take a lapsed lease back; 0 if the node is being reaped
--   reap     claim a lapsed node's sessions for reaping (ARGV[5]: the
--            reaping node; the claim is kept a day: a reaped node never
--            comes back); 0 if its lease lives, or a live node claimed it
--            first (a claim by a node that died since is taken over)
--   leave    a node shutting down: drop its lease and its entry
-- Returns 1 or 0.
local P, op, node, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lease, claim = P .. 'node:' .. node, P .. 'reap:' .. node
if op == 'renew' then
  if not redis.call('SET', lease, ARGV[5], 'XX', 'PX', ttl) then
    return 0
  end
  redis.call('ZADD', P .. 'nodes', ARGV[6], node)
  return 1
elseif op == 'reclaim' then
  if redis.call('EXISTS', claim) == 1 then
    return 0
  end
  redis.call('SET', lease, ARGV[5], 'PX', ttl)
  redis.call('ZADD', P .. 'nodes', ARGV[6], node)
  return 1
elseif op == 'reap' then
  if redis.call('EXISTS', lease) == 1 then
    return 0
  end
  local holder = redis.call('GET', claim)
  if holder and holder ~= ARGV[5] and redis.call('EXISTS', P .. 'node:' .. holder) == 1 then
    return 0
  end
  redis.call('SET', claim, ARGV[5], 'PX', 86400000)
  return 1
elseif op == 'leave' then
  redis.call('DEL', lease)
  redis.call('ZREM', P .. 'nodes', node)
  return 1
end
return redis.error_reply('lease.lua: unknown operation ' .. tostring(op))
