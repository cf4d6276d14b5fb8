package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/parley-rtc/parley/server"
)

// envPrefix names Parley's environment variables: PARLEY_<FLAG>, e.g.
// PARLEY_TLS_CERT for --tls-cert and PARLEY_TURN_SECRET for --turn-secret.
const envPrefix = "PARLEY_"

// configOptions is the configuration table of server.Config, with the
// defaults of server.DefaultConfig.
func configOptions() []option {
	d := server.DefaultConfig()
	return tableOptions(&d)
}

// configFlags defines one flag per configuration key, with its default, and
// returns the table it defined them from.
func configFlags(fs *pflag.FlagSet) []option {
	opts := configOptions()
	for _, o := range opts {
		o.define(fs)
	}
	return opts
}

// loadConfig layers defaults → YAML file → PARLEY_* environment → flags and
// decodes strictly: an unknown key or a value of the wrong type is an error,
// and an unknown key's error names the nearest valid one. A key the file
// spells the old way (limits.rate) is read as its new one (rate), and warn
// says so.
func loadConfig(fs *pflag.FlagSet, opts []option, path string, environ []string, warn io.Writer) (server.Config, error) {
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return server.Config{}, fmt.Errorf("read %s: %w", path, err)
		}
		if err := renameOldKeys(k, opts, path, warn); err != nil {
			return server.Config{}, err
		}
		if err := checkKeys(k, opts, path); err != nil {
			return server.Config{}, err
		}
	}
	fromEnv, err := envValues(opts, environ)
	if err != nil {
		return server.Config{}, err
	}
	// Lists arrive as "a,b" strings; the decode hook below splits them.
	if err := k.Load(confmap.Provider(fromEnv, "."), nil); err != nil {
		return server.Config{}, fmt.Errorf("read environment: %w", err)
	}
	keyOf := make(map[string]string, len(opts))
	for _, o := range opts {
		keyOf[o.flag()] = o.key
	}
	if err := k.Load(posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		return keyOf[f.Name], posflag.FlagVal(fs, f)
	}), nil); err != nil {
		return server.Config{}, fmt.Errorf("read flags: %w", err)
	}
	cfg := server.DefaultConfig()
	err = k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(",")),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		TagName:          "koanf",
		Result:           &cfg,
	}})
	if err != nil {
		return server.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// renameOldKeys moves the values of keys a file spells the old way to their
// new keys, one warning each.
func renameOldKeys(k *koanf.Koanf, opts []option, path string, warn io.Writer) error {
	for _, o := range opts {
		if o.old == "" || !k.Exists(o.old) {
			continue
		}
		if k.Exists(o.key) {
			return fmt.Errorf("%s: %s and %s are the same key (%s is its old name): give one", path, o.key, o.old, o.old)
		}
		if err := k.Set(o.key, k.Get(o.old)); err != nil {
			return fmt.Errorf("%s: %s: %w", path, o.old, err)
		}
		k.Delete(o.old)
		fmt.Fprintf(warn, "parley: %s: %s is now spelled %s\n", path, o.old, o.key)
	}
	return nil
}

// checkKeys refuses keys that are no option, naming the nearest valid one
// and listing the valid ones.
func checkKeys(k *koanf.Koanf, opts []option, path string) error {
	valid := make([]string, len(opts))
	for i, o := range opts {
		valid[i] = o.key
	}
	var errs []string
	for _, key := range k.Keys() {
		if !slices.Contains(valid, key) {
			errs = append(errs, fmt.Sprintf("unknown key %q (did you mean %s?)", key, nearest(key, valid)))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s; the valid keys are %s (parley config example shows each with its default)",
		path, strings.Join(errs, "; "), strings.Join(valid, ", "))
}

// envValues maps PARLEY_* variables to configuration keys. It refuses
// unknown ones, naming the nearest valid variable, so a typo
// (PARLEY_TURN_SECRT) is reported, not silently ignored; but it ignores
// the service-link variables Kubernetes puts into every pod next to a
// Service named parley (see serviceLink).
func envValues(opts []option, environ []string) (map[string]any, error) {
	byEnv := make(map[string]option, len(opts))
	names := make([]string, 0, len(opts))
	for _, o := range opts {
		byEnv[o.env()] = o
		names = append(names, o.env())
	}
	out := make(map[string]any)
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == envPrefix+"CONFIG" {
			continue
		}
		o, ok := byEnv[name]
		switch {
		case ok:
			out[o.key] = value
		case serviceLink(name, value):
		default:
			unknown = append(unknown, fmt.Sprintf("%s (did you mean %s?)", name, nearest(name, names)))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown environment variables: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// Kubernetes gives every pod variables for each Service in its namespace
// (the "service links"), named after the Service: for one named parley,
// PARLEY_SERVICE_HOST=10.0.0.1, PARLEY_SERVICE_PORT=7880,
// PARLEY_SERVICE_PORT_<PORT NAME>, PARLEY_PORT=tcp://10.0.0.1:7880 and
// PARLEY_PORT_7880_TCP[_PROTO|_PORT|_ADDR]; for one named parley-turn, the
// same behind PARLEY_TURN_. No configuration key has one of these shapes
// (TestNoKeyLooksLikeAServiceLink).
var (
	serviceLinkName = regexp.MustCompile(`^[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_[A-Z]+)?)$`)
	// A bare <SERVICE>_PORT is the service's first port as a URL; a typo
	// of a key that happens to end in _PORT has some other value.
	serviceLinkPort = regexp.MustCompile(`^(tcp|udp|sctp)://`)
)

// serviceLink reports whether the variable name=value is one Kubernetes
// makes for a Service.
func serviceLink(name, value string) bool {
	if strings.HasSuffix(name, "_PORT") && serviceLinkPort.MatchString(value) {
		return true
	}
	return serviceLinkName.MatchString(name)
}

// unknownFlag adds the nearest valid flag to pflag's "unknown flag" error.
func unknownFlag(err error, fs *pflag.FlagSet) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var flags []string
	fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
	return fmt.Errorf("%w (did you mean --%s?)", err, nearest(name, flags))
}

// configPath is --config, else PARLEY_CONFIG.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(envPrefix + "CONFIG")
}
