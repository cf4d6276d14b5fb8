package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// runCluster measures cluster mode on this machine (make bench-cluster):
// a local redis-server and n nodes, every process and the load generator
// sharing the machine's cores. It prints the relay latency of a single
// node on its memory store, of two peers on one node of the cluster and
// of two peers on two nodes (paced at rate); the throughput of every node
// together (window mode) with the Redis commands, Redis' own time and the
// nodes' CPU time per relayed message; and the time from SIGKILL of a
// client's node to its session resumed on another node.
func runCluster(n, rooms int, d time.Duration, rate, window int) error {
	bin, cleanup, err := buildParley()
	if err != nil {
		return err
	}
	defer cleanup()

	mem, err := startServer(bin, 2*rooms+16, false)
	if err != nil {
		return err
	}
	memory, err := phase([]*server{mem}, rooms, d, ice, rate, window)
	mem.stop()
	if err != nil {
		return err
	}

	rs, err := startRedis()
	if err != nil {
		return err
	}
	defer rs.stop()
	nodes := make([]*server, n)
	defer func() {
		for _, s := range nodes {
			if s != nil {
				s.stop()
			}
		}
	}()
	startNode := func(i int) (*server, error) {
		return startServer(bin, 4*rooms+64, false, "--redis-url", rs.url, "--node-id", fmt.Sprintf("load%d-%d", i, time.Now().UnixNano()))
	}
	urls := make([]string, n)
	for i := range nodes {
		if nodes[i], err = startNode(i); err != nil {
			return err
		}
		urls[i] = nodes[i].url
	}
	fmt.Printf("cluster: %d nodes on one redis-server, %d rooms × 2 peers, ice.candidate relays, all on this machine\n", n, rooms)
	fmt.Printf("  single node, memory store, paced at %d msg/s: latency p50 %s p99 %s\n", rate, memory.p50, memory.p99)
	same, err := phase(nodes[:1], rooms, d, ice, rate, window)
	if err != nil {
		return err
	}
	fmt.Printf("  same node (Redis), paced at %d msg/s: %.0f msg/s, latency p50 %s p99 %s\n", rate, same.rate, same.p50, same.p99)
	cross, err := phase(nodes[:min(2, n)], rooms, d, ice, rate, window)
	if err != nil {
		return err
	}
	fmt.Printf("  cross node (Redis), paced at %d msg/s: %.0f msg/s, latency p50 %s p99 %s\n", rate, cross.rate, cross.p50, cross.p99)

	before, err := rs.commandStats()
	if err != nil {
		return err
	}
	cpuBefore, err := cpuTime(nodes)
	if err != nil {
		return err
	}
	tripsBefore, err := roundTrips(nodes)
	if err != nil {
		return err
	}
	all, err := phase(nodes, rooms, d, ice, 0, window)
	if err != nil {
		return err
	}
	after, err := rs.commandStats()
	if err != nil {
		return err
	}
	cpuAfter, err := cpuTime(nodes)
	if err != nil {
		return err
	}
	cpu := cpuAfter - cpuBefore
	trips, err := roundTrips(nodes)
	if err != nil {
		return err
	}
	msgs := float64(all.n)
	fmt.Printf("  all %d nodes, window %d/sender: %.0f relayed msg/s, latency p50 %s p99 %s\n", n, window, all.rate, all.p50, all.p99)
	fmt.Printf("  per relayed message: %.1f round trips to Redis, %.1f Redis commands (scripts' inside included), %.0f µs in Redis, %.0f µs of the nodes' CPU\n",
		float64(trips-tripsBefore)/msgs, float64(after.calls-before.calls)/msgs, float64(after.usec-before.usec)/msgs, float64(cpu.Microseconds())/msgs)

	var times []time.Duration
	const trials = 30
	for trial := range trials {
		i := trial % n
		took, err := killAndResume(nodes[i], urls[(i+1)%n])
		if err != nil {
			return fmt.Errorf("kill trial %d: %w", trial, err)
		}
		times = append(times, took)
		if nodes[i], err = startNode(i); err != nil {
			return err
		}
		urls[i] = nodes[i].url
	}
	slices.Sort(times)
	fmt.Printf("  SIGKILL of a client's node to its session resumed on another node (%d trials): p50 %s p99 %s max %s\n",
		trials, times[trials/2].Round(time.Microsecond), times[trials*99/100].Round(time.Microsecond), times[trials-1].Round(time.Microsecond))
	return nil
}

// killAndResume opens a session on victim, SIGKILLs victim, and resumes
// the session at other as soon as the connection drops: the time from the
// kill to the resume's answer.
func killAndResume(victim *server, other string) (time.Duration, error) {
	c, err := dial(victim.url)
	if err != nil {
		return 0, err
	}
	defer c.ws.Close()
	var res struct {
		Result struct {
			SessionID   string `json:"sessionId"`
			ResumeToken string `json:"resumeToken"`
		} `json:"result"`
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"killed"}}`)); err != nil {
		return 0, err
	}
	if err := c.ws.ReadJSON(&res); err != nil {
		return 0, err
	}
	start := time.Now()
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			break
		}
	}
	resume := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"resume":{"sessionId":%q,"resumeToken":%q,"lastSeq":0}}}`, res.Result.SessionID, res.Result.ResumeToken)
	r, err := dial(other, resume)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	_ = r.ws.Close()
	_ = victim.cmd.Wait()
	return took, nil
}

// redisServer is the load's own redis-server.
type redisServer struct {
	cmd *exec.Cmd
	dir string
	url string
	rdb *redis.Client
}

func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("cluster mode needs redis-server (make deps)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir, err := os.MkdirTemp("", "parley-load-redis")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rs := &redisServer{cmd: cmd, dir: dir, url: "redis://127.0.0.1:" + port + "/0", rdb: redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})}
	for range 100 {
		if rs.rdb.Ping(context.Background()).Err() == nil {
			return rs, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	rs.stop()
	return nil, errors.New("redis-server did not answer within 5s")
}

func (rs *redisServer) stop() {
	_ = rs.rdb.Close()
	_ = rs.cmd.Process.Kill()
	_ = rs.cmd.Wait()
	os.RemoveAll(rs.dir)
}

// commandStats are Redis' totals over every command: calls and their time.
type commandStats struct{ calls, usec int64 }

func (rs *redisServer) commandStats() (commandStats, error) {
	info, err := rs.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		return commandStats{}, err
	}
	var st commandStats
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		_, stats, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(sc.Text(), "cmdstat_") {
			continue
		}
		for kv := range strings.SplitSeq(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.calls += n
			case "usec":
				st.usec += n
			}
		}
	}
	return st, nil
}

// roundTrips sums, over the nodes' /metrics, the Redis commands and
// pipelines they sent (parley_redis_command_duration_seconds_count).
func roundTrips(nodes []*server) (int64, error) {
	var total int64
	for _, s := range nodes {
		res, err := http.Get(strings.Replace(strings.TrimSuffix(s.url, "/rpc"), "ws://", "http://", 1) + "/metrics")
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "parley_redis_command_duration_seconds_count{") {
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int64(n)
			}
		}
		res.Body.Close()
	}
	return total, nil
}
