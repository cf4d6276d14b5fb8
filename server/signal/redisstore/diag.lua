-- diag.lua: ICE failure explained across a cluster (diag.go). The
-- clients' diag.report per room and pair, and the TURN events per
-- identity, bounded by count and by a TTL, so that any node joins what
-- every node saw. Keys are computed from the arguments (one primary, as
-- commit.lua).
--
-- ARGV[1] prefix, ARGV[2] op, ARGV[3] now (ms), ARGV[4] retention (ms).
--
-- report: 5 room, 6 pair ("{lo} {hi}"), 7 side (0|1), 8 the side (JSON),
--   9 the other side without a report (JSON, kept only if it has none),
--   10 the signaling record (JSON, "" to keep the last), 11 pairs per
--   room, 12 rooms. dg:{room} (hash: "{pair} 0", "{pair} 1", "{pair} s",
--   "{pair} c") and dgp:{room} (the pairs by last report) expire with
--   the retention; dgrooms (rooms by last report) drops the least
--   recent beyond the cap. Answers the pair: {side 0, side 1, signaling,
--   counted}, false where absent.
-- count: 5 room, 6 pair, 7 result. Sets the pair's counted result unless
--   it is that already: 1 if it changed it (the caller counts), else 0.
-- turn: 5 events per identity, 6 identities, then per event: identity,
--   kind, address, at (ms), count. dgt:{identity} (a list of
--   "{kind}|{address}|{at}|{count}", oldest first; a repeat of the last
--   kind and address folds into it) expires with the retention; dgids
--   drops the least recent identity beyond the cap.
local p, op, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

-- capped adds member to the sorted set z at now, and drops (and returns)
-- those past the retention and the least recent beyond max.
local function capped(z, member, max)
	redis.call('ZADD', z, now, member)
	local out = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. (now - ttl))
	if #out > 0 then
		redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. (now - ttl))
	end
	local over = redis.call('ZCARD', z) - max
	if over > 0 then
		local popped = redis.call('ZPOPMIN', z, over)
		for i = 1, #popped, 2 do
			out[#out + 1] = popped[i]
		end
	end
	return out
end

if op == 'report' then
	local room, pair, side = ARGV[5], ARGV[6], tonumber(ARGV[7])
	local h, z = p .. 'dg:' .. room, p .. 'dgp:' .. room
	redis.call('HSET', h, pair .. ' ' .. side, ARGV[8])
	redis.call('HSETNX', h, pair .. ' ' .. (1 - side), ARGV[9])
	if ARGV[10] ~= '' then
		redis.call('HSET', h, pair .. ' s', ARGV[10])
	end
	for _, old in ipairs(capped(z, pair, tonumber(ARGV[11]))) do
		redis.call('HDEL', h, old .. ' 0', old .. ' 1', old .. ' s', old .. ' c')
	end
	redis.call('PEXPIRE', h, ttl)
	redis.call('PEXPIRE', z, ttl)
	for _, old in ipairs(capped(p .. 'dgrooms', room, tonumber(ARGV[12]))) do
		redis.call('DEL', p .. 'dg:' .. old, p .. 'dgp:' .. old)
	end
	return redis.call('HMGET', h, pair .. ' 0', pair .. ' 1', pair .. ' s', pair .. ' c')
end

if op == 'count' then
	local h, f = p .. 'dg:' .. ARGV[5], ARGV[6] .. ' c'
	if redis.call('HEXISTS', h, ARGV[6] .. ' 0') == 0 or redis.call('HGET', h, f) == ARGV[7] then
		return 0
	end
	redis.call('HSET', h, f, ARGV[7])
	return 1
end

if op == 'turn' then
	local max, ids = tonumber(ARGV[5]), tonumber(ARGV[6])
	for i = 7, #ARGV - 4, 5 do
		local id, kind, addr, at, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
		local k = p .. 'dgt:' .. id
		local last = redis.call('LINDEX', k, -1)
		local lk, la, lc
		if last then
			lk, la, lc = string.match(last, '^([^|]*)|([^|]*)|[^|]*|(%d+)$')
		end
		if lk == kind and la == addr then
			redis.call('LSET', k, -1, kind .. '|' .. addr .. '|' .. at .. '|' .. (tonumber(lc) + n))
		else
			redis.call('RPUSH', k, kind .. '|' .. addr .. '|' .. at .. '|' .. n)
			redis.call('LTRIM', k, -max, -1)
		end
		redis.call('PEXPIRE', k, ttl)
		for _, old in ipairs(capped(p .. 'dgids', id, ids)) do
			redis.call('DEL', p .. 'dgt:' .. old)
		end
	end
	return 1
end

return redis.error_reply('diag.lua: unknown op ' .. tostring(op))
