package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server"
)

const tokenSynopsis = `Mints a JWT (HS256) for session.connect. The key is --key kid:secret, or the
first of PARLEY_API_KEYS. App backends mint the same tokens in their own
language: claims sub (identity), exp, and the grants rooms, create, moderator, admin,
owner.`

func runToken(args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", tokenSynopsis, stderr)
	key := fs.String("key", "", "API key as kid:secret (default: first of PARLEY_API_KEYS)")
	identity := fs.String("identity", "", "who the token is for (required)")
	rooms := fs.StringSlice("room", nil, "room the token grants (repeat; default: any room)")
	create := fs.Bool("create", true, "grant creating rooms")
	moderator := fs.Bool("moderator", false, "join rooms as a moderator (may kick)")
	admin := fs.Bool("admin", false, "grant admin (the admin.* methods, any room)")
	owner := fs.StringSlice("owner", nil, "room the identity joins as owner, whoever is there first (repeat; also grants the room)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *identity == "" {
		return errors.New("token: --identity is required")
	}
	if !api.ValidIdentity(*identity) {
		return fmt.Errorf("token: %q is not a valid identity (1-128 of A-Z a-z 0-9 _ . @ + -)", *identity)
	}
	if *key == "" {
		*key = firstAPIKey(environ)
	}
	if *key == "" {
		return errors.New("token: give --key kid:secret or set PARLEY_API_KEYS")
	}
	keys, err := server.ParseAPIKeys([]string{*key})
	if err != nil {
		return fmt.Errorf("token: --key: %w", err)
	}
	kid, _, _ := strings.Cut(*key, ":")
	tok, err := server.Mint(kid, keys[kid], *identity, server.Grants{Rooms: *rooms, Create: *create, Moderator: *moderator, Admin: *admin, Owner: *owner}, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func firstAPIKey(environ []string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, envPrefix+"API_KEYS="); ok {
			first, _, _ := strings.Cut(v, ",")
			return first
		}
	}
	return ""
}
