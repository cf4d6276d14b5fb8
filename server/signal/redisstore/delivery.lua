-- delivery.lua: who delivers a cluster's events to one webhook URL, and
-- how far it got. One node at a time holds a URL's lease and delivers its
-- events in order per room (or session); what it finished (a 2xx, a
-- give-up) is recorded here before that room's next event goes, so a
-- node taking the lease over (the holder died) carries on from there: an
-- event in flight when the holder died is sent again, with the same
-- webhook-id (at-least-once; receivers drop duplicates by id).
--
-- KEYS: none (keys from the prefix). ARGV[1]: the key prefix; ARGV[2]: the
-- operation; ARGV[3]: the URL's key (a hash of the URL); ARGV[4]: the
-- node; ARGV[5], ARGV[6]: the operation's.
--   lease  take the URL's lease, or renew it if the node holds it (ARGV[5]:
--          TTL, ms); 1 if the node holds it now, else 0
--   release  drop the lease if the node holds it (it shuts down)
--   done   record that the node finished the event ARGV[6] of key ARGV[5]
--          (a room's "room/{id}", a session's "session/{id}"); 0 if the
--          node does not hold the lease (nothing written)
--   low    record that every event up to ARGV[5] is finished, and forget
--          the keys finished at or below it; 0 if not the holder
--   start  a URL new to the cluster (no low-water cursor yet) starts at
--          the stream's last event: it gets the events from now on, as on
--          a single node, not the retained history; every node runs it
--          before it serves, so no event of its own precedes the start
--   state  {low, key, cursor, key, cursor, …}: where delivery stands
-- Keys: whl:{url} the lease (value: the node), whd:{url} hash key → last
-- finished cursor, whw:{url} the low-water cursor.
local P, op, url, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lease, done, low = P .. 'whl:' .. url, P .. 'whd:' .. url, P .. 'whw:' .. url
if op == 'lease' then
  local holder = redis.call('GET', lease)
  if holder and holder ~= node then
    return 0
  end
  redis.call('SET', lease, node, 'PX', ARGV[5])
  return 1
elseif op == 'start' then
  if redis.call('EXISTS', low) == 0 then
    local last = redis.call('XREVRANGE', P .. 'events', '+', '-', 'COUNT', 1)[1]
    redis.call('SET', low, last and string.match(last[1], '^(%d+)') or '0')
  end
  return 1
elseif op == 'state' then
  local out = {redis.call('GET', low) or '0'}
  for _, v in ipairs(redis.call('HGETALL', done)) do
    out[#out + 1] = v
  end
  return out
end
if redis.call('GET', lease) ~= node then
  return 0
end
if op == 'release' then
  redis.call('DEL', lease)
  return 1
elseif op == 'done' then
  local was = tonumber(redis.call('HGET', done, ARGV[5]) or '0')
  if tonumber(ARGV[6]) > was then
    redis.call('HSET', done, ARGV[5], ARGV[6])
  end
  return 1
elseif op == 'low' then
  local w = tonumber(ARGV[5])
  if w > tonumber(redis.call('GET', low) or '0') then
    redis.call('SET', low, ARGV[5])
  end
  local kv = redis.call('HGETALL', done)
  for i = 1, #kv, 2 do
    if tonumber(kv[i + 1]) <= w then
      redis.call('HDEL', done, kv[i])
    end
  end
  return 1
end
return redis.error_reply('delivery.lua: unknown operation ' .. tostring(op))
