// Command parley is the Parley WebRTC signaling server and its tools.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

const usage = `parley — WebRTC signaling (JSON-RPC 2.0 over WebSocket) in one binary.

Usage:
  parley serve [flags]     run the server (parley serve --dev for local development)
  parley config example    every configuration key with its default, as commented YAML
  parley config check FILE check a configuration file (and PARLEY_* and flags) as serve would
  parley token [flags]     mint a JWT for a client (session.connect's token)
  parley doctor [flags]    NAT type, public address, direct-or-TURN, TURN end to end
  parley rpc [flags] METHOD [params]  call one method, print the result as JSON
  parley listen [flags]    join rooms and print notifications as JSON lines
  parley shell [flags]     one session, many calls: methods line by line, Tab completes
  parley completion bash   bash completion (commands, flags, method names)
  parley health [flags]    check that the server configured here answers /healthz (a container's HEALTHCHECK)
  parley version           print the version, the VCS revision and the Go version
  parley help [command]    show help

Run 'parley <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: testable, and it returns an exit code.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(rest, environ, stdout, stderr)
	case "config":
		err = runConfig(rest, environ, stdout, stderr)
	case "token":
		err = runToken(rest, environ, stdout, stderr)
	case "doctor":
		err = runDoctor(rest, environ, stdout, stderr)
	case "rpc":
		err = runRPC(rest, stdout, stderr)
	case "listen":
		err = runListen(rest, stdout, stderr)
	case "shell":
		err = runShell(rest, os.Stdin, stdout, stderr)
	case "completion":
		err = runCompletion(rest, stdout)
	case "health":
		err = runHealth(rest, environ, stdout, stderr)
	case "version", "--version":
		err = runVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) > 0 {
			return run([]string{rest[0], "--help"}, environ, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
}

// newFlagSet makes a subcommand's flag set with a usage line.
func newFlagSet(name, synopsis string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: parley %s [flags]\n\n%s\n\nFlags:\n%s", name, synopsis, fs.FlagUsages())
	}
	return fs
}
