package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
)

// runExplain is `parley doctor --explain ROOM`: admin.diag.explain, printed
// for a person (or as JSON). It fails (exit 1) when a pair of the room
// failed to connect, as any doctor check that fails.
func runExplain(ctx context.Context, f rpcFlags, room, peer string, asJSON bool, stdout io.Writer) error {
	c, err := dialRPC(ctx, f, nil)
	if err != nil {
		return fmt.Errorf("doctor --explain: %w", err)
	}
	defer c.close()
	params, _ := json.Marshal(api.AdminDiagExplainParams{RoomID: room, PeerID: peer})
	raw, err := c.call(ctx, api.MethodAdminDiagExplain, params)
	if err != nil {
		return fmt.Errorf("doctor --explain: admin.diag.explain: %w", err)
	}
	var x api.DiagExplanation
	if err := json.Unmarshal(raw, &x, json.RejectUnknownMembers(false)); err != nil {
		return fmt.Errorf("doctor --explain: bad result: %w", err)
	}
	if asJSON {
		if err := json.MarshalWrite(stdout, x, jsontext.WithIndent("  ")); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	} else {
		printExplanation(stdout, x)
	}
	for _, p := range x.Pairs {
		if p.Verdict.Result == api.DiagResultFailed {
			return errors.New("doctor: a connection in the room failed")
		}
	}
	return nil
}

var explainMark = map[api.DiagResult]string{
	api.DiagResultConnected: "ok     ",
	api.DiagResultFailed:    "FAILED ",
	api.DiagResultChecking:  "slow   ",
	api.DiagResultUnknown:   "?      ",
}

func printExplanation(w io.Writer, x api.DiagExplanation) {
	fmt.Fprintf(w, "room %s: %d pair(s) reported\n", x.RoomID, len(x.Pairs))
	for _, p := range x.Pairs {
		v := p.Verdict
		fmt.Fprintf(w, "%s%s ↔ %s: %s", explainMark[v.Result], sideName(p.A), sideName(p.B), v.Result)
		if v.Cause != "none" {
			fmt.Fprintf(w, ", %s", v.Cause)
		}
		fmt.Fprintf(w, "\n  %s\n", v.Explanation)
		if v.Result == api.DiagResultConnected {
			continue
		}
		for _, side := range []api.DiagSide{p.A, p.B} {
			if side.ReportedAt == 0 {
				fmt.Fprintf(w, "  %s sent no report\n", sideName(side))
			} else {
				fmt.Fprintf(w, "  %s reported %s ago\n", sideName(side), time.Since(time.UnixMilli(side.ReportedAt)).Round(time.Second))
			}
		}
		if len(v.Evidence) > 0 {
			fmt.Fprintf(w, "  evidence:\n    %s\n", strings.Join(v.Evidence, "\n    "))
		}
	}
}

func sideName(s api.DiagSide) string {
	if s.Identity != "" {
		return s.Identity + " (" + s.PeerID + ")"
	}
	return s.PeerID
}
