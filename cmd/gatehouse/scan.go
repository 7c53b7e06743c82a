package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
	"github.com/gatehouse/gatehouse/scan/report"
)

func init() { subcommands = append(subcommands, newScanCmd) }

// scanConfig is the optional --scan-config file. Flags given on the command
// line win over it.
type scanConfig struct {
	Spec        string         `yaml:"spec"`
	Target      string         `yaml:"target"`
	Identities  []scanIdentity `yaml:"identities"`
	Checks      string         `yaml:"checks"`
	FailOn      string         `yaml:"fail_on"`
	Budget      int            `yaml:"budget"`
	Burst       int            `yaml:"burst"`
	Concurrency int            `yaml:"concurrency"`
	Rate        float64        `yaml:"rate"`
	Safe        bool           `yaml:"safe"`
	AllowMethod []string       `yaml:"allow_methods"`
	Baseline    string         `yaml:"baseline"`
	Timeout     time.Duration  `yaml:"timeout"`
	// ThrottleWait bounds the wait for a rate-limited probe (429, or 503
	// with Retry-After) before it is resent; negative = never resend.
	ThrottleWait time.Duration `yaml:"throttle_wait"`
	// ThrottleBudget bounds the waiting of the whole scan.
	ThrottleBudget time.Duration `yaml:"throttle_budget"`
	// Exclude lists operations never to call (operationIds or "METHOD /path").
	Exclude []string `yaml:"exclude"`
	// WaitForTarget bounds the wait for a target that stopped answering.
	WaitForTarget time.Duration `yaml:"wait_for_target"`
	// FailOnSkipped fails the scan when a high or critical check tested nothing.
	FailOnSkipped bool `yaml:"fail_on_skipped"`
}

type scanIdentity struct {
	Name       string            `yaml:"name"`
	Privileged *bool             `yaml:"privileged"`
	Headers    map[string]string `yaml:"headers"`
	Login      *struct {
		Operation string            `yaml:"operation"`
		Fields    map[string]string `yaml:"fields"`
		// Cookie: the session is carried by the cookies the login sets
		// (a cookie-session identity), not by a token in its answer.
		Cookie bool `yaml:"cookie"`
		// CSRFHeader: the header the CSRF token is echoed in (default:
		// by the token's source, X-CSRF-Token otherwise).
		CSRFHeader string `yaml:"csrf_header"`
	} `yaml:"login"`
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces explicit ${NAME} references (only those) with the environment.
func expand(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string { return os.Getenv(m[2 : len(m)-1]) })
}

func loadScanConfig(path string) (*scanConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scan config: %w", err)
	}
	var c scanConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scan config %s: %w", path, err)
	}
	return &c, nil
}

func (si scanIdentity) identity(path string, i int) (*scan.Identity, error) {
	if si.Name == "" {
		return nil, fmt.Errorf("scan config %s: identities[%d]: name is required", path, i)
	}
	var id *scan.Identity
	switch {
	case si.Login != nil && len(si.Headers) > 0:
		return nil, fmt.Errorf("scan config %s: identities[%d] (%s): give headers or login, not both", path, i, si.Name)
	case si.Login != nil:
		if si.Login.Operation == "" {
			return nil, fmt.Errorf("scan config %s: identities[%d] (%s): login.operation is required", path, i, si.Name)
		}
		f := map[string]string{}
		for k, v := range si.Login.Fields {
			f[k] = expand(v)
		}
		id = scan.NewLoginIdentity(si.Name, si.Login.Operation, f)
		if si.Login.Cookie {
			id = scan.NewCookieIdentity(si.Name, si.Login.Operation, f)
			id.CSRFHeader = si.Login.CSRFHeader
		}
	case len(si.Headers) > 0:
		h := http.Header{}
		for k, v := range si.Headers {
			h.Set(k, expand(v))
		}
		id = scan.NewHeaderIdentity(si.Name, h)
	default:
		return nil, fmt.Errorf("scan config %s: identities[%d] (%s): give headers or login", path, i, si.Name)
	}
	if si.Privileged != nil {
		id.Privileged = *si.Privileged
	}
	return id, nil
}

// loadBaseline reads fingerprints to suppress: a JSON array of strings, an
// object {"fingerprints": [...]}, or a previous JSON report.
func loadBaseline(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	out := map[string]bool{}
	var list []string
	if json.Unmarshal(b, &list) == nil {
		for _, f := range list {
			out[f] = true
		}
		return out, nil
	}
	var doc struct {
		Fingerprints []string `json:"fingerprints"`
		Findings     []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("baseline %s: want a JSON array of fingerprints, {\"fingerprints\": [...]} or a gatehouse JSON report: %w", path, err)
	}
	for _, f := range doc.Fingerprints {
		out[f] = true
	}
	for _, f := range doc.Findings {
		out[f.Fingerprint] = true
	}
	return out, nil
}

func newScanCmd() *cobra.Command {
	var (
		specPath, target, checkList, format, output, failOn, baseline, configPath string
		idFlags, allow                                                            []string
		budget, concurrency, burst                                                int
		rate                                                                      float64
		safe, quiet                                                               bool
		timeout, throttleWait, throttleBudget                                     time.Duration
		exclude                                                                   []string
		waitForTarget                                                             time.Duration
		failOnSkipped                                                             bool
	)
	cmd := &cobra.Command{
		Use:   "scan --spec api.yaml --target URL [--identity NAME=...]...",
		Short: "Test a running API for security blunders along its OpenAPI contract",
		Long: `Scan drives a running API along its OpenAPI contract, as one or more identities, and
reports the blunders it can prove: broken authentication (missing auth, forged and weak-secret
JWTs, no expiry, tokens valid after logout), broken object and function level authorization
(BOLA, BFLA), excessive data exposure, mass assignment, missing rate limits (login, reads), leaky errors,
SQL injection and misconfiguration (headers, CORS, version disclosure, TRACE).

Identities (repeatable; two regular users make BOLA testable, an "admin..." one BFLA):
  --identity alice=login:login:username=alice,password=alice-pw   log in through operation "login"
  --identity bob=header:Authorization: Bearer eyJ...               send a static header
  --identity carol=bearer:eyJ...                                   shorthand for the above
  --identity dave=cookie:login:username=dave,password=dave-pw      log in, carried by the session cookie (CSRF token echoed)
Names starting with "admin" are privileged; a --scan-config file can say so explicitly.

Each finding carries redacted evidence, a curl command and the gatehouse setting that fixes it.

Operations that reset, drop, seed or wipe data (by operationId, summary or path words, a DELETE
on a collection, or x-gatehouse-scan: destructive in the spec) are never called with --safe and
at most once otherwise; --exclude and x-gatehouse-scan: skip keep an operation out entirely.
When the target stops answering mid-scan, the scan reports the requests just before as a
denial-of-service finding (GH2070), waits for it (--wait-for-target) and marks what could not
run as "not run: target down". Every report says, per check and operation, what was tested,
skipped (and why) or not applicable.

Exit status: 0 no finding at or above --fail-on, 1 findings at or above it (or, with
--fail-on-skipped, a high or critical check that tested nothing), 2 the scan could not run
(bad spec or flags, target down at the start, an identity cannot log in).`,
		Example: `  gatehouse scan --spec api.yaml --target http://127.0.0.1:5000 \
    --identity alice=login:login:username=alice,password=alice-pw \
    --identity bob=login:login:username=bob,password=bob-pw \
    --format sarif --output scan.sarif --fail-on high`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(err error) error { return &exitError{code: 2, err: err} }
			cfg := &scanConfig{}
			if configPath != "" {
				c, err := loadScanConfig(configPath)
				if err != nil {
					return usage(err)
				}
				cfg = c
			}
			fl := cmd.Flags()
			pick := func(flag, fromFlag, fromCfg string) string {
				if fl.Changed(flag) || fromCfg == "" {
					return fromFlag
				}
				return fromCfg
			}
			specPath = pick("spec", specPath, cfg.Spec)
			target = pick("target", target, cfg.Target)
			checkList = pick("checks", checkList, cfg.Checks)
			failOn = pick("fail-on", failOn, cfg.FailOn)
			baseline = pick("baseline", baseline, cfg.Baseline)
			if !fl.Changed("budget") && cfg.Budget > 0 {
				budget = cfg.Budget
			}
			if !fl.Changed("burst") && cfg.Burst > 0 {
				burst = cfg.Burst
			}
			if burst < 1 || burst > 1000 {
				return usage(fmt.Errorf("--burst %d: want 1..1000", burst))
			}
			if !fl.Changed("concurrency") && cfg.Concurrency > 0 {
				concurrency = cfg.Concurrency
			}
			if !fl.Changed("rate") && cfg.Rate > 0 {
				rate = cfg.Rate
			}
			if !fl.Changed("timeout") && cfg.Timeout > 0 {
				timeout = cfg.Timeout
			}
			if !fl.Changed("throttle-wait") && cfg.ThrottleWait != 0 {
				throttleWait = cfg.ThrottleWait
			}
			if !fl.Changed("throttle-budget") && cfg.ThrottleBudget != 0 {
				throttleBudget = cfg.ThrottleBudget
			}
			safe = safe || cfg.Safe
			exclude = append(exclude, cfg.Exclude...)
			if !fl.Changed("wait-for-target") && cfg.WaitForTarget > 0 {
				waitForTarget = cfg.WaitForTarget
			}
			failOnSkipped = failOnSkipped || cfg.FailOnSkipped
			if waitForTarget < 0 {
				return usage(fmt.Errorf("--wait-for-target %s: want 0 (do not wait) or more", waitForTarget))
			}
			allow = append(allow, cfg.AllowMethod...)
			if specPath == "" || target == "" {
				return usage(errors.New("scan needs --spec and --target"))
			}
			threshold, err := scan.ParseSeverity(failOn)
			if err != nil {
				return usage(fmt.Errorf("--fail-on: %w", err))
			}
			rep, err := report.New(format)
			if err != nil {
				return usage(fmt.Errorf("--format: %w", err))
			}
			cs, err := checks.Select(checkList)
			if err != nil {
				return usage(fmt.Errorf("--checks: %w", err))
			}
			cs = checks.Tune(cs, checks.Settings{Burst: burst})
			var suppress map[string]bool
			if baseline != "" {
				if suppress, err = loadBaseline(baseline); err != nil {
					return usage(err)
				}
			}
			var ids []*scan.Identity
			for i, si := range cfg.Identities {
				id, err := si.identity(configPath, i)
				if err != nil {
					return usage(err)
				}
				ids = append(ids, id)
			}
			for _, s := range idFlags {
				id, err := scan.ParseIdentity(s)
				if err != nil {
					return usage(fmt.Errorf("--identity: %w", err))
				}
				ids = append(ids, id)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id.Name] {
					return usage(fmt.Errorf("identity %q given twice", id.Name))
				}
				seen[id.Name] = true
			}
			spec, err := openapi.Load(specPath)
			if err != nil {
				return usage(err)
			}
			for _, id := range ids {
				if id.CanLogin() && spec.Operation(id.LoginOp) == nil {
					return usage(fmt.Errorf("identity %q: login operation %q is not in %s", id.Name, id.LoginOp, specPath))
				}
			}
			client := scan.NewClient(scan.ClientOptions{Budget: budget, Concurrency: concurrency, Rate: rate, Safe: safe, AllowMethods: allow, Timeout: timeout, ThrottleWait: throttleWait, ThrottleBudget: throttleBudget})
			tg, err := scan.NewTarget(spec, target, ids, client, nil)
			if err != nil {
				return usage(err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var progress io.Writer
			tty := false
			if !quiet {
				progress = cmd.ErrOrStderr()
				if f, ok := progress.(*os.File); ok {
					if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
						tty = true
					}
				}
			}
			res, err := scan.Run(ctx, tg, scan.Options{Checks: cs, Suppress: suppress, Safe: safe,
				Parallel: max(1, concurrency/2), Progress: progress, TTY: tty, Version: versionString(),
				Exclude: exclude, WaitForTarget: waitArg(waitForTarget)})
			if err != nil {
				return usage(fmt.Errorf("scan could not run: %w", err))
			}
			res.Spec = specPath
			out := cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return usage(fmt.Errorf("--output: %w", err))
				}
				defer f.Close()
				out = f
			}
			if err := rep.Report(out, res); err != nil {
				return usage(fmt.Errorf("write report: %w", err))
			}
			if n := res.Count(threshold); n > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d finding(s) at or above %s", n, threshold)}
			}
			if failOnSkipped {
				if un := res.Untested(scan.High); len(un) > 0 {
					var ids []string
					for _, c := range un {
						ids = append(ids, c.Meta.ID+" ("+c.Status+": "+c.Reason+")")
					}
					return &exitError{code: 1, err: fmt.Errorf("--fail-on-skipped: %d high or critical check(s) tested nothing: %s", len(un), strings.Join(ids, "; "))}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "OpenAPI 3.0/3.1 or Swagger 2.0 document of the API")
	f.StringVar(&target, "target", "", "base URL of the running API, e.g. http://127.0.0.1:5000")
	f.StringArrayVar(&idFlags, "identity", nil, "identity NAME=header:K: V | NAME=bearer:TOKEN | NAME=login:OPERATION:k=v,... | NAME=cookie:OPERATION:k=v,... (repeatable)")
	f.StringVar(&configPath, "scan-config", "", "YAML file with identities and defaults for these flags")
	f.StringVar(&checkList, "checks", "", "check IDs and categories to run, e.g. authn,bola,GH2050 or all,-injection (default all)")
	f.StringVar(&format, "format", "console", "report format: "+strings.Join(report.Formats, ", "))
	f.StringVarP(&output, "output", "o", "", "write the report to FILE instead of stdout")
	f.StringVar(&failOn, "fail-on", "low", "exit 1 when a finding has at least this severity: info, low, medium, high, critical")
	f.StringVar(&baseline, "baseline", "", "JSON file of fingerprints (or a previous JSON report) whose findings are suppressed")
	f.IntVar(&budget, "budget", 2000, "maximum number of requests (0 = unlimited)")
	f.IntVar(&burst, "burst", dynamic.LoginBurst, "requests in each rate-limit burst (GH2030 login, GH2032 cheap read)")
	f.IntVar(&concurrency, "concurrency", 4, "maximum requests in flight")
	f.Float64Var(&rate, "rate", 0, "maximum requests per second (0 = unlimited)")
	f.BoolVar(&safe, "safe", false, "send no DELETE/PUT/PATCH (unless --allow-method) and skip intrusive checks")
	f.StringSliceVar(&allow, "allow-method", nil, "methods allowed in --safe mode anyway, e.g. PATCH")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "timeout of each request")
	f.DurationVar(&throttleWait, "throttle-wait", 10*time.Second, "how long one probe answered 429 (or 503 with Retry-After) may wait in all for the limit to clear before it is resent, at most twice (negative = never resend); a probe still throttled counts as not tested")
	f.DurationVar(&throttleBudget, "throttle-budget", 2*time.Minute, "how long the whole scan may wait for rate limits; once spent, throttled probes are no longer resent (negative = no bound)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.StringSliceVar(&exclude, "exclude", nil, "operations never to call: operationIds or \"METHOD /path\" (repeatable)")
	f.DurationVar(&waitForTarget, "wait-for-target", scan.DefaultWaitForTarget, "how long to wait, probing with backoff, for a target that stopped answering (0 = do not wait)")
	f.BoolVar(&failOnSkipped, "fail-on-skipped", false, "exit 1 when a high or critical check tested nothing (skipped, not run, or nothing to apply to)")
	return cmd
}

// waitArg maps the --wait-for-target flag to scan.Options.WaitForTarget,
// where 0 means the default and a negative value "do not wait".
func waitArg(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func versionString() string {
	if version != "" {
		return version
	}
	return "dev"
}
