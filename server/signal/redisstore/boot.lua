-- boot.lua: run on every new connection to Redis, before any other
-- command on it (go-redis OnConnect). It notices that Redis restarted (or
-- failed over to a replica) since the last connection of any node: its
-- run_id changed. Then "boot" counts up, and every log written before is
-- lost (commit.lua): Redis cannot say which of its last writes a restart
-- lost (AOF everysec: up to a second of them), so a resume across it
-- answers 410 rather than risk a silent gap.
--
-- KEYS: none (keys from the prefix). ARGV[1]: the key prefix; ARGV[2]: a
-- fresh random dataset id, kept only if Redis holds none (it restarted
-- without its data, or never held Parley's).
-- Returns {boot, dataset}.
local P = ARGV[1]
local info = redis.call('INFO', 'server')
local run = string.match(info, 'run_id:(%w+)')
if redis.call('GET', P .. 'runid') ~= run then
  redis.call('SET', P .. 'runid', run)
  redis.call('INCR', P .. 'boot')
end
redis.call('SET', P .. 'dataset', ARGV[2], 'NX')
return {redis.call('GET', P .. 'boot'), redis.call('GET', P .. 'dataset')}
