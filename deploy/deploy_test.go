package deploy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"

	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdbs        map[string]*policyv1.PodDisruptionBudget
	files       []string
}

// load decodes every document of deploy/k8s/*.yaml strictly into its
// Kubernetes API type: an unknown or misspelt field, a wrong type or an
// unexpected kind fails.
func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
	}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, filepath.Base(f))
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj interface{ GetName() string }
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				obj = d
			case "v1 Service":
				obj = &corev1.Service{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
			if obj.GetName() == "" {
				t.Fatalf("%s document %d (%s): no metadata.name", f, i, tm.Kind)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deployments[o.Name] = o
			case *corev1.Service:
				m.services[o.Name] = o
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				m.pdbs[o.Name] = o
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func selects(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// gatewayConfig is the part of the ConfigMap's gatehouse.yaml the
// manifests must agree with.
type gatewayConfig struct {
	Listen string `json:"listen"`
	Admin  string `json:"admin"`
	Spec   string `json:"spec"`
	Authn  struct {
		JWT []struct {
			Keys []string `json:"keys"`
		} `json:"jwt"`
		Revocation struct {
			Store string `json:"store"`
		} `json:"revocation"`
	} `json:"authn"`
	RateLimits struct {
		Store string `json:"store"`
	} `json:"rate_limits"`
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

// TestKubernetes checks that the manifests say what the README promises:
// three gateway replicas, readiness on the admin listener's /readyz, config
// from the ConfigMap, one Redis shared through the config's ${REDIS_URL}.
func TestKubernetes(t *testing.T) {
	m := load(t)
	gw := m.deployments["gatehouse"]
	cm := m.configMaps["gatehouse-config"]
	redisDep, redisSvc := m.deployments["gatehouse-redis"], m.services["gatehouse-redis"]
	if gw == nil || cm == nil || redisDep == nil || redisSvc == nil || m.services["gatehouse"] == nil {
		t.Fatalf("want Deployments gatehouse and gatehouse-redis, Services gatehouse and gatehouse-redis, ConfigMap gatehouse-config")
	}
	var cfg gatewayConfig
	if err := yaml.Unmarshal([]byte(cm.Data["gatehouse.yaml"]), &cfg); err != nil {
		t.Fatalf("ConfigMap gatehouse.yaml: %v", err)
	}

	if gw.Spec.Replicas == nil || *gw.Spec.Replicas != 3 {
		t.Errorf("gatehouse replicas = %v, want 3", gw.Spec.Replicas)
	}
	pod := gw.Spec.Template
	if !selects(gw.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("gatehouse selector %v does not select its pods %v", gw.Spec.Selector.MatchLabels, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("gatehouse pod: %d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	// Ports: the container's ports are the config's listeners.
	if got, want := containerPort(c, "http"), port(t, cfg.Listen); got != want {
		t.Errorf("containerPort http = %d, config listen = %q", got, cfg.Listen)
	}
	adminPort := containerPort(c, "admin")
	if want := port(t, cfg.Admin); adminPort != want || adminPort == 0 {
		t.Errorf("containerPort admin = %d, config admin = %q", adminPort, cfg.Admin)
	}
	rp := c.ReadinessProbe
	if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/readyz" ||
		(rp.HTTPGet.Port.String() != "admin" && rp.HTTPGet.Port.IntValue() != int(adminPort)) {
		t.Errorf("readinessProbe = %+v, want GET /readyz on the admin port", rp)
	}
	if lp := c.LivenessProbe; lp == nil || lp.HTTPGet == nil || lp.HTTPGet.Path != "/healthz" || lp.HTTPGet.Port.String() != "admin" {
		t.Errorf("livenessProbe = %+v, want GET /healthz on the admin port", lp)
	}
	svc := m.services["gatehouse"]
	if !selects(svc.Spec.Selector, pod.Labels) {
		t.Errorf("Service gatehouse selector %v does not select the pods", svc.Spec.Selector)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() == "admin" || p.TargetPort.IntValue() == int(adminPort) {
			t.Errorf("Service gatehouse exposes the admin port (%v): /metrics and the admin API stay off the public Service", p)
		}
	}
	if pdb := m.pdbs["gatehouse"]; pdb == nil || pdb.Spec.MinAvailable == nil || !selects(pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("PodDisruptionBudget gatehouse missing or not selecting the pods")
	}

	// Config from the ConfigMap: the -c file and every file it names.
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
				mount = &c.VolumeMounts[i]
			}
		}
	}
	if mount == nil {
		t.Fatal("the gatehouse container does not mount ConfigMap gatehouse-config")
	}
	i := slices.Index(c.Args, "-c")
	if i < 0 || i+1 >= len(c.Args) || filepath.Dir(c.Args[i+1]) != mount.MountPath || cm.Data[filepath.Base(c.Args[i+1])] == "" {
		t.Errorf("args %v: want -c naming a ConfigMap key under %s", c.Args, mount.MountPath)
	}
	files := []string{cfg.Spec}
	for _, j := range cfg.Authn.JWT {
		files = append(files, j.Keys...)
	}
	for _, f := range files {
		if cm.Data[f] == "" {
			t.Errorf("config names %q, not a key of the ConfigMap", f)
		}
	}

	// One Redis for all replicas, through ${REDIS_URL}.
	if cfg.RateLimits.Store != "${REDIS_URL}" || cfg.Authn.Revocation.Store != "${REDIS_URL}" {
		t.Errorf("rate_limits.store = %q, authn.revocation.store = %q, want ${REDIS_URL} for both", cfg.RateLimits.Store, cfg.Authn.Revocation.Store)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	u, err := url.Parse(env["REDIS_URL"].Value)
	if err != nil || u.Scheme != "redis" || u.Hostname() != redisSvc.Name {
		t.Fatalf("REDIS_URL = %q, want redis://%s:PORT/DB", env["REDIS_URL"].Value, redisSvc.Name)
	}
	if len(redisSvc.Spec.Ports) != 1 || strconv.Itoa(int(redisSvc.Spec.Ports[0].Port)) != u.Port() {
		t.Errorf("REDIS_URL port %s is not the Service's %v", u.Port(), redisSvc.Spec.Ports)
	}
	if !selects(redisSvc.Spec.Selector, redisDep.Spec.Template.Labels) {
		t.Errorf("Service gatehouse-redis does not select the Redis pod")
	}
	if e := env["GATEHOUSE_ADMIN_TOKEN"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("GATEHOUSE_ADMIN_TOKEN must come from a Secret, got %+v", e)
	}

	// Hardening of every pod.
	for name, d := range m.deployments {
		ps := d.Spec.Template.Spec
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot not set", name)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted (the pod needs no API access)", name)
		}
		for _, c := range ps.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s/%s: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL", name, c.Name)
			}
		}
	}

	// kustomization.yaml lists every manifest.
	var k struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}{}); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	_ = yaml.Unmarshal(data, &k)
	slices.Sort(k.Resources)
	if !slices.Equal(k.Resources, m.files) {
		t.Errorf("kustomization resources %v, manifests %v", k.Resources, m.files)
	}
}

// gatehouseBinary returns $GATEHOUSE_BIN (CI: the release build) or builds
// the command from the repository.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("GATEHOUSE_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-tags", "nodemo", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	return bin
}

// TestConfigMapValidates runs `gatehouse validate` (load, validate and
// build: spec, rules, key files) on the ConfigMap's files as the pods see
// them.
func TestConfigMapValidates(t *testing.T) {
	cm := load(t).configMaps["gatehouse-config"]
	dir := t.TempDir()
	for name, data := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	cmd := exec.Command(gatehouseBinary(t), "validate", "-c", filepath.Join(dir, "gatehouse.yaml"))
	cmd.Env = append(os.Environ(), "REDIS_URL=redis://gatehouse-redis:6379/0", "GATEHOUSE_ADMIN_TOKEN="+hex.EncodeToString(tok))
	out, err := cmd.CombinedOutput()
	t.Logf("gatehouse validate:\n%s", out)
	if err != nil {
		t.Fatalf("gatehouse validate on the ConfigMap: %v", err)
	}
	// Without the Secret's token the admin listener off loopback is refused.
	cmd = exec.Command(gatehouseBinary(t), "validate", "-c", filepath.Join(dir, "gatehouse.yaml"))
	cmd.Env = append(os.Environ(), "REDIS_URL=redis://gatehouse-redis:6379/0", "GATEHOUSE_ADMIN_TOKEN=")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("validate passed with an empty admin token:\n%s", out)
	}
}

// dockerfile is a parsed Dockerfile: its stages' instructions.
type stage struct {
	from  string
	instr [][2]string // instruction, arguments
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, l := range strings.Split(joined, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ins, args, _ := strings.Cut(l, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stages = append(stages, stage{from: strings.Fields(args)[0]})
			continue
		}
		if len(stages) == 0 {
			if ins == "ARG" {
				continue
			}
			t.Fatalf("Dockerfile: %s before FROM", ins)
		}
		s := &stages[len(stages)-1]
		s.instr = append(s.instr, [2]string{ins, args})
	}
	return stages
}

// TestDockerfile: multi-stage; the build stage runs the release script
// (the commands CI runs) with the Go version CI uses; the final image is
// distroless static or scratch, non-root, with no shell and no RUN, and
// exec-form ENTRYPOINT/CMD (a shell form would need /bin/sh).
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	runsRelease := slices.ContainsFunc(build.instr, func(i [2]string) bool {
		return i[0] == "RUN" && strings.Contains(i[1], "scripts/release")
	})
	if !runsRelease {
		t.Error("the build stage does not run scripts/release")
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	tc := regexp.MustCompile(`GOTOOLCHAIN=go([0-9.]+)`).FindSubmatch(ci)
	if tc == nil || !strings.HasPrefix(build.from, "golang:"+string(tc[1])) {
		t.Errorf("build stage FROM %s, want golang:%s (the Go .ci/run uses)", build.from, tc)
	}
	if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("final FROM %s, want scratch or gcr.io/distroless/static (no shell)", final.from)
	}
	var user string
	for _, i := range final.instr {
		switch i[0] {
		case "RUN":
			t.Errorf("RUN %s in the final stage: it has no shell", i[1])
		case "USER":
			user = i[1]
		case "ENTRYPOINT", "CMD":
			if !strings.HasPrefix(strings.TrimSpace(i[1]), "[") {
				t.Errorf("%s %s: shell form needs /bin/sh; use the exec form", i[0], i[1])
			}
		case "COPY":
			if !strings.Contains(i[1], "--from=") {
				t.Errorf("COPY %s in the final stage: only the built binary goes in", i[1])
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if user == "" || uid == "0" || uid == "root" {
		t.Errorf("final USER %q, want a non-root user", user)
	}
}

// TestSystemdUnit checks the hardening directives, and with systemd's
// own analyzer (when installed) that the unit parses and its exposure level.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("systemd/gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(l, "#") {
			set[k] = append(set[k], v)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if !slices.Contains(set[k], want) {
			t.Errorf("%s = %q, want %q", k, set[k], want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed: the unit's syntax and exposure level are not checked")
	}
	// verify wants the executables to exist: point them at /bin/true.
	dir := t.TempDir()
	unit := filepath.Join(dir, "gatehouse.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/local/bin/gatehouse"), []byte("/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline unsupported here: %v", err)
	}
	mm := regexp.MustCompile(`Overall exposure level for gatehouse.service: ([0-9.]+)`).FindSubmatch(out)
	if mm == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(mm[1]), 64)
	t.Logf("systemd-analyze security exposure level: %.1f", level)
	if level > 2.0 {
		t.Errorf("exposure level %.1f, want <= 2.0 (docs/deploy.md)", level)
	}
}
