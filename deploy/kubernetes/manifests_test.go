// Package kubernetes holds Parley's Kubernetes manifests and their test,
// which decodes them strictly with the Kubernetes Go types (offline: no
// cluster, no schema download) and checks them against Parley itself. Only
// this test imports the Kubernetes packages; the server binary links none
// (scripts/check-imports.sh).
package kubernetes

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
	"github.com/parley-rtc/parley/server"
)

// decode reads file strictly into a T: an unknown or duplicate field, or a
// value of the wrong type, is an error.
func decode[T any](t *testing.T, file, apiVersion, kind string) T {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	_ = yaml.Unmarshal(data, &meta)
	if meta.APIVersion != apiVersion || meta.Kind != kind {
		t.Fatalf("%s is %s %s, want %s %s", file, meta.APIVersion, meta.Kind, apiVersion, kind)
	}
	return v
}

type manifests struct {
	config     corev1.ConfigMap
	deployment appsv1.Deployment
	service    corev1.Service
	pod        corev1.PodSpec
	container  corev1.Container
}

func load(t *testing.T) manifests {
	t.Helper()
	m := manifests{
		config:     decode[corev1.ConfigMap](t, "configmap.yaml", "v1", "ConfigMap"),
		deployment: decode[appsv1.Deployment](t, "deployment.yaml", "apps/v1", "Deployment"),
		service:    decode[corev1.Service](t, "service.yaml", "v1", "Service"),
	}
	m.pod = m.deployment.Spec.Template.Spec
	if len(m.pod.Containers) != 1 {
		t.Fatalf("%d containers, want one", len(m.pod.Containers))
	}
	m.container = m.pod.Containers[0]
	return m
}

// containerPort is the container's port named or numbered p.
func (m manifests) containerPort(t *testing.T, p intstr.IntOrString) corev1.ContainerPort {
	t.Helper()
	for _, cp := range m.container.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp
		}
	}
	t.Fatalf("the container has no port %s", p.String())
	return corev1.ContainerPort{}
}

// TestManifests: the Deployment, Service and ConfigMap fit together and
// fit Parley: probes on /readyz and /healthz of the signaling port, a grace
// period past the preStop pause, the drain and the close, the node's
// network and address for TURN, the image's non-root user.
func TestManifests(t *testing.T) {
	m := load(t)
	labels := m.deployment.Spec.Template.Labels
	for k, v := range m.deployment.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods", k, v)
		}
	}
	for k, v := range m.service.Spec.Selector {
		if labels[k] != v {
			t.Errorf("the Service's selector %s=%s does not match the pods", k, v)
		}
	}
	if r := m.deployment.Spec.Replicas; r == nil || *r != 1 || m.deployment.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v, strategy %s: one node keeps its state in memory, so one replica, recreated", r, m.deployment.Spec.Strategy.Type)
	}

	wss := m.containerPort(t, m.service.Spec.Ports[0].TargetPort)
	for probe, path := range map[*corev1.Probe]string{m.container.ReadinessProbe: "/readyz", m.container.LivenessProbe: "/healthz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
			m.containerPort(t, probe.HTTPGet.Port).ContainerPort != wss.ContainerPort {
			t.Errorf("want an HTTPS probe of %s on port %d: %+v", path, wss.ContainerPort, probe)
		}
	}

	d := server.DefaultConfig()
	pre := m.container.Lifecycle.PreStop
	if pre == nil || pre.Sleep == nil {
		t.Fatal("no preStop pause")
	}
	grace := m.pod.TerminationGracePeriodSeconds
	if need := pre.Sleep.Seconds + int64((d.DrainTimeout + d.ShutdownTimeout).Seconds()); grace == nil || *grace <= need {
		t.Errorf("terminationGracePeriodSeconds %v: want more than preStop %ds + drain %s + shutdown %s", grace, pre.Sleep.Seconds, d.DrainTimeout, d.ShutdownTimeout)
	}

	if !m.pod.HostNetwork || m.pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Error("TURN relays need the node's network (hostNetwork, with ClusterFirstWithHostNet DNS)")
	}
	if !slices.ContainsFunc(m.container.Env, func(e corev1.EnvVar) bool {
		return e.Name == "PARLEY_TURN_PUBLIC_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.hostIP"
	}) {
		t.Error("PARLEY_TURN_PUBLIC_IP does not come from the node (status.hostIP)")
	}
	sc := m.pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Error("the pod must run as the image's user, 65532, and refuse root")
	}
	if c := m.container.SecurityContext; c == nil || c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation ||
		c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem || !slices.Contains(c.Capabilities.Drop, "ALL") {
		t.Error("the container must drop every capability, escalate nothing and keep its root file system read-only")
	}
}

// TestManifestsConfigurePARLEY: the container's arguments, the ConfigMap's
// file and the environment the pod gets (the node's address, the Secret's
// values, and the service links Kubernetes adds for the Service named
// parley) pass parley config check, and the ports Parley listens on are
// the container's.
func TestManifestsConfigureParley(t *testing.T) {
	m := load(t)
	dir := t.TempDir()
	binary := filepath.Join(dir, "parley")
	if err := parleyproc.Build(binary, "github.com/parley-rtc/parley/cmd/parley"); err != nil {
		t.Fatal(err)
	}
	mounts := make(map[string]string) // volume → mount path
	for _, vm := range m.container.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}
	files := make(map[string]string) // path in the pod → path here
	for _, v := range m.pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == m.config.Name {
			for key, text := range m.config.Data {
				local := filepath.Join(dir, key)
				if err := os.WriteFile(local, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				files[mounts[v.Name]+"/"+key] = local
			}
		}
	}
	args := []string{"config", "check"}
	for _, a := range m.container.Args[1:] { // after "serve"
		if local, ok := files[a]; ok {
			a = local
		}
		args = append(args, a)
	}
	if m.container.Args[0] != "serve" {
		t.Fatalf("args %q: want serve", m.container.Args)
	}
	env := serviceLinks(m.service, "10.96.0.17")
	for _, e := range m.container.Env {
		switch v := e.ValueFrom; {
		case v == nil:
			env = append(env, e.Name+"="+e.Value)
		case v.FieldRef != nil:
			env = append(env, e.Name+"=192.0.2.10") // status.hostIP
		case v.SecretKeyRef != nil:
			env = append(env, e.Name+"="+secrets[v.SecretKeyRef.Key])
		default:
			t.Fatalf("env %s: a source this test cannot fill in", e.Name)
		}
	}
	check := exec.Command(binary, args...)
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("parley %s\nwith %q: %v\n%s", strings.Join(args, " "), env, err, out)
	}

	// The ports Parley listens on, from the same file, are the container's.
	var cfg struct {
		Listen string `json:"listen"`
		TURN   struct {
			Listen    string `json:"listen"`
			TLSListen string `json:"tls-listen"`
		} `json:"turn"`
	}
	if err := yaml.Unmarshal([]byte(m.config.Data["parley.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		listen   string
		protocol corev1.Protocol
	}{{cfg.Listen, corev1.ProtocolTCP}, {cfg.TURN.Listen, corev1.ProtocolUDP}, {cfg.TURN.Listen, corev1.ProtocolTCP}, {cfg.TURN.TLSListen, corev1.ProtocolTCP}} {
		_, p, _ := net.SplitHostPort(want.listen)
		port, _ := strconv.Atoi(p)
		if !slices.ContainsFunc(m.container.Ports, func(cp corev1.ContainerPort) bool {
			return int(cp.ContainerPort) == port && cp.Protocol == want.protocol
		}) {
			t.Errorf("Parley listens on %s/%s, which the container does not declare", want.listen, want.protocol)
		}
	}
}

// secrets are values of the right shape for the parley-secrets keys.
var secrets = map[string]string{
	"api-keys":    "main:" + strings.Repeat("k", 40),
	"turn-secret": strings.Repeat("s", 20),
}

// serviceLinks are the variables Kubernetes gives every pod in the
// namespace of svc (kubelet's envvars.FromServices), at clusterIP.
func serviceLinks(svc corev1.Service, clusterIP string) []string {
	prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
	first := svc.Spec.Ports[0]
	env := []string{
		fmt.Sprintf("%s_SERVICE_HOST=%s", prefix, clusterIP),
		fmt.Sprintf("%s_SERVICE_PORT=%d", prefix, first.Port),
		fmt.Sprintf("%s_PORT=%s://%s", prefix, strings.ToLower(string(first.Protocol)), net.JoinHostPort(clusterIP, strconv.Itoa(int(first.Port)))),
	}
	for _, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if p.Name != "" {
			env = append(env, fmt.Sprintf("%s_SERVICE_PORT_%s=%d", prefix, strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), p.Port))
		}
		link := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, proto)
		env = append(env,
			fmt.Sprintf("%s=%s://%s", link, strings.ToLower(proto), net.JoinHostPort(clusterIP, strconv.Itoa(int(p.Port)))),
			fmt.Sprintf("%s_PROTO=%s", link, strings.ToLower(proto)),
			fmt.Sprintf("%s_PORT=%d", link, p.Port),
			fmt.Sprintf("%s_ADDR=%s", link, clusterIP))
	}
	return env
}
