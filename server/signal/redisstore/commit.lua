-- commit.lua: one transaction of the signaling core, all or nothing.
-- redisstore/commit.go builds its arguments; DESIGN.md describes the keys.
--
-- KEYS: none. The keys are computed from the arguments (a notification's
-- recipients' logs are known only from the transaction), which Redis
-- Cluster forbids: Parley needs one primary (Sentinel is fine).
-- ARGV[1]: the key prefix ("parley:").
-- ARGV[2]: the transaction, as JSON (fields below, each omitted if empty).
-- ARGV[3..]: blobs the transaction refers to by their ARGV index: records
--            and the two halves of each notification's frame.
--
--   id    commit id: a commit seen before returns its first result
--         (go-redis retries a command whose reply was lost)
--   node  the committing node: refused ("fenced") unless its lease lives
--   ttl   how long the commit id is remembered (ms); gone: how long a
--         deleted session's log outlives it (ms); mn, mb: a log's caps
--         (entries, bytes)
--   cr    {key, v}: a record's version must still be v ("" absent)
--   ci    {field, v}: an index's version (hash ixv) must still be v
--   ct    {member, score}: a timer must still be due at score (Fired)
--   pr    {key, blob, field, value, ...}: put a record (and its extra
--         fields: a session's node n, generation g, state st, epoch e)
--   pc    {key, field, n}: add n to a pair's counter (its hash, beside
--         the record; unversioned: counting commutes)
--   dr    {key}: delete a record
--   nl    {session, epoch}: make a session's log
--   zi    {key, field, {score, member, ...}, {member, ...}}: index
--         entries to add and remove; field ("" for none) versions it
--   pa/pd {key, member}: add to / remove from a room's set of pairs
--   ts    {member, score}: set a timer; td {member}: remove one
--   ak    {session, seq}: the client acknowledged up to seq
--   nt    {head, tail, {session, ...}}: a notification for sessions,
--         appended in order to each one's log, its seq between head and
--         tail
--   ds    {session}: delete a session (after nt: a notification sent
--         before the session ended still reaches its log); its log
--         expires after gone, for its old node to deliver the last frames
--   at    {session, after}: attach on this node: return the log after
--   cl    {session, node, gen, reason, text}: close a session's
--         connection on another node, after the frames already in its log
--   ev    {blob, room, last}: an event for app backends (its JSON with
--         cursor and roomSeq 0), appended to the stream events as entry
--         {cursor}-0 (fields e: the JSON, q: its roomSeq), trimmed to er
--         entries. The cursor is INCR evc (started at
--         the time in µs); a room's roomSeq HINCRBY evq {room}, whose
--         field goes with the room's last event (last 1)
--
-- Returns {"ok", seqs, attaches, events}: seqs, per recipient of nt in
-- order, its seq (0: no such session; -seq: its log is lost); attaches,
-- per at, {status (0 ok, 1 log lost, 2 frames gone), first seq, frame,
-- ...}; events, per ev, {cursor, roomSeq}.
-- Or {"conflict", what} (nothing written), or {"fenced"}.
-- Each node whose sessions got frames or closes gets one PUBLISH on
-- wake:{node}: lines "w {session} {seq}", then "c {session} {gen}
-- {reason} {text}". A log whose epoch is not its session's, or that
-- predates the current boot of Redis (boot.lua), is lost: it is marked so,
-- and resumes from it answer 410.
local P = ARGV[1]
local tx = cjson.decode(ARGV[2])

local done = P .. 'done:' .. tx.id
local prev = redis.call('GET', done)
if prev then
  return cmsgpack.unpack(prev)
end
if redis.call('EXISTS', P .. 'node:' .. tx.node) == 0 then
  return {'fenced'}
end

for _, c in ipairs(tx.cr or {}) do
  if (redis.call('HGET', P .. c[1], 'v') or '') ~= c[2] then
    return {'conflict', c[1]}
  end
end
for _, c in ipairs(tx.ci or {}) do
  if (redis.call('HGET', P .. 'ixv', c[1]) or '') ~= c[2] then
    return {'conflict', 'index ' .. c[1]}
  end
end
for _, c in ipairs(tx.ct or {}) do
  local due = redis.call('ZSCORE', P .. 'timers', c[1])
  if not due or tonumber(due) ~= tonumber(c[2]) then
    return {'conflict', 'timer ' .. c[1]}
  end
end

local ver
local function version()
  if not ver then
    ver = tostring(redis.call('INCR', P .. 'ver'))
  end
  return ver
end
local boot = redis.call('GET', P .. 'boot') or '0'

for _, w in ipairs(tx.pr or {}) do
  local args = {'v', version(), 'r', ARGV[w[2]]}
  for i = 3, #w do
    args[#args + 1] = w[i]
  end
  redis.call('HSET', P .. w[1], unpack(args))
end
for _, c in ipairs(tx.pc or {}) do
  redis.call('HINCRBY', P .. c[1], c[2], c[3])
end
for _, k in ipairs(tx.dr or {}) do
  redis.call('DEL', P .. k)
end
for _, l in ipairs(tx.nl or {}) do
  local mk = P .. 'logm:' .. l[1]
  if redis.call('EXISTS', mk) == 0 then
    redis.call('DEL', P .. 'log:' .. l[1])
    redis.call('HSET', mk, 'e', l[2], 'b', boot, 'q', 0, 'a', 0, 'y', 0)
  end
end
for _, z in ipairs(tx.zi or {}) do
  local k = P .. z[1]
  if #z[3] > 0 then
    redis.call('ZADD', k, unpack(z[3]))
  end
  if #z[4] > 0 then
    redis.call('ZREM', k, unpack(z[4]))
  end
  if z[2] ~= '' then
    if redis.call('EXISTS', k) == 1 then
      redis.call('HSET', P .. 'ixv', z[2], version())
    else
      redis.call('HDEL', P .. 'ixv', z[2])
    end
  end
end
for _, p in ipairs(tx.pa or {}) do
  redis.call('SADD', P .. p[1], p[2])
end
for _, p in ipairs(tx.pd or {}) do
  redis.call('SREM', P .. p[1], p[2])
end
for _, m in ipairs(tx.td or {}) do
  redis.call('ZREM', P .. 'timers', m)
end
for _, t in ipairs(tx.ts or {}) do
  redis.call('ZADD', P .. 'timers', t[2], t[1])
end

for _, a in ipairs(tx.ak or {}) do
  local mk, lk = P .. 'logm:' .. a[1], P .. 'log:' .. a[1]
  local acked = redis.call('HGET', mk, 'a')
  if acked and a[2] > tonumber(acked) then
    redis.call('HSET', mk, 'a', a[2])
    local gone = redis.call('XRANGE', lk, '-', a[2] .. '-0')
    if #gone > 0 then
      local bytes = 0
      for _, e in ipairs(gone) do
        bytes = bytes + #e[2][2]
      end
      redis.call('XTRIM', lk, 'MINID', (a[2] + 1) .. '-0')
      redis.call('HINCRBY', mk, 'y', -bytes)
    end
  end
end

-- wake[node] = {lines}; closes[node] = {lines}, sent after the frames.
local wake, closes = {}, {}
local function line(t, node, l)
  local ls = t[node]
  if not ls then
    ls = {}
    t[node] = ls
  end
  ls[#ls + 1] = l
end

-- lost reports whether session id's log (meta m: e, b) is lost, and marks
-- it so.
local function lost(mk, epoch, m)
  if m[1] == epoch and m[2] == boot then
    return false
  end
  if m[1] ~= 'lost' or m[2] ~= boot then
    redis.call('HSET', mk, 'e', 'lost', 'b', boot)
  end
  return true
end

local function append(id, head, tail)
  local s = redis.call('HMGET', P .. 's:' .. id, 'e', 'n', 'st')
  if not s[1] then
    return 0
  end
  local mk, lk = P .. 'logm:' .. id, P .. 'log:' .. id
  local m = redis.call('HMGET', mk, 'e', 'b')
  if not m[1] then
    redis.call('DEL', lk)
    redis.call('HSET', mk, 'e', 'lost', 'b', boot, 'q', 0, 'a', 0, 'y', 0)
    m = {'lost', boot}
  end
  local gone = lost(mk, s[1], m)
  local seq = redis.call('HINCRBY', mk, 'q', 1)
  local frame = head .. seq .. tail
  redis.call('XADD', lk, seq .. '-0', 'f', frame)
  local bytes = redis.call('HINCRBY', mk, 'y', #frame)
  local n = redis.call('XLEN', lk)
  while n > 0 and (n > tx.mn or bytes > tx.mb) do
    local first = redis.call('XRANGE', lk, '-', '+', 'COUNT', 1)[1]
    redis.call('XDEL', lk, first[1])
    bytes = redis.call('HINCRBY', mk, 'y', -#first[2][2])
    n = n - 1
  end
  if s[3] == 'a' and s[2] ~= tx.node then
    line(wake, s[2], 'w ' .. id .. ' ' .. seq)
  end
  if gone then
    return -seq
  end
  return seq
end

local seqs = {}
for _, n in ipairs(tx.nt or {}) do
  local head, tail = ARGV[n[1]], ARGV[n[2]]
  for _, id in ipairs(n[3]) do
    seqs[#seqs + 1] = append(id, head, tail)
  end
end

for _, id in ipairs(tx.ds or {}) do
  redis.call('DEL', P .. 's:' .. id)
  redis.call('PEXPIRE', P .. 'log:' .. id, tx.gone)
  redis.call('PEXPIRE', P .. 'logm:' .. id, tx.gone)
end

local attaches = {}
for _, a in ipairs(tx.at or {}) do
  local mk, lk = P .. 'logm:' .. a[1], P .. 'log:' .. a[1]
  local m = redis.call('HMGET', mk, 'e', 'b')
  local epoch = redis.call('HGET', P .. 's:' .. a[1], 'e')
  local r
  if not m[1] or not epoch or lost(mk, epoch, m) then
    r = {1, 0}
  else
    r = {0, a[2] + 1}
    local es = redis.call('XRANGE', lk, '(' .. a[2] .. '-0', '+')
    if #es > 0 and es[1][1] ~= (a[2] + 1) .. '-0' then
      r = {2, 0}
    else
      for _, e in ipairs(es) do
        r[#r + 1] = e[2][2]
      end
    end
  end
  attaches[#attaches + 1] = r
end

for _, c in ipairs(tx.cl or {}) do
  line(closes, c[2], 'c ' .. c[1] .. ' ' .. c[3] .. ' ' .. c[4] .. ' ' .. c[5])
end
for node, ls in pairs(closes) do
  for _, l in ipairs(ls) do
    line(wake, node, l)
  end
end
for node, ls in pairs(wake) do
  redis.call('PUBLISH', P .. 'wake:' .. node, table.concat(ls, '\n'))
end

local events = {}
if tx.ev then
  local ck = P .. 'evc'
  if redis.call('EXISTS', ck) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', ck, now[1] .. string.sub('00000' .. now[2], -6))
  end
  for _, e in ipairs(tx.ev) do
    local cursor = redis.call('INCR', ck)
    local q = 0
    if e[2] ~= '' then
      q = redis.call('HINCRBY', P .. 'evq', e[2], 1)
      if e[3] == 1 then
        redis.call('HDEL', P .. 'evq', e[2])
      end
    end
    redis.call('XADD', P .. 'events', 'MAXLEN', tx.er, string.format('%d-0', cursor), 'e', ARGV[e[1]], 'q', q)
    events[#events + 1] = {cursor, q}
  end
end

local result = {'ok', seqs, attaches, events}
redis.call('SET', done, cmsgpack.pack(result), 'PX', tx.ttl)
return result
