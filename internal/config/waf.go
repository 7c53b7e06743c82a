package config

import "strconv"

// WAF configures the optional web application firewall: Coraza running the
// OWASP Core Rule Set on requests. It is off by default: the contract stages
// (request validation and libinjection on free-form strings) already stop
// what an API spec can describe; the CRS is for teams that want a generic
// WAF in front as well, and costs far more per request (see docs/waf.md).
//
//	waf:
//	  enabled: true
//	  paranoia_level: 1        # CRS paranoia level 1-4 (more rules, more false positives)
//	  anomaly_threshold: 5     # inbound anomaly score that blocks (CRS default 5)
//	  inspect_body: true       # also run the body rules (JSON, form) within request.max_body
//	  exclude_rules: [942100]  # CRS rule IDs removed everywhere
//	  rules: [local-rules.conf]  # extra SecLang files loaded after the CRS
//	  mode: ""                 # enforce | monitor; empty follows the route
//	  operations:
//	    uploadAvatar: { enabled: false }
//	    searchDocs: { exclude_rules: [941100] }
type WAF struct {
	// Enabled turns the Coraza + OWASP CRS stage on (default false).
	Enabled bool `yaml:"enabled"`
	// ParanoiaLevel is the CRS paranoia level, 1 (default) to 4.
	ParanoiaLevel int `yaml:"paranoia_level"`
	// AnomalyThreshold is the inbound anomaly score at which a request is
	// blocked (CRS default 5: one critical rule).
	AnomalyThreshold int `yaml:"anomaly_threshold"`
	// InspectBody runs the request-body rules too (default true).
	InspectBody bool `yaml:"inspect_body"`
	// ExcludeRules lists CRS rule IDs removed for every operation.
	ExcludeRules []int `yaml:"exclude_rules"`
	// Rules lists extra SecLang rule files, loaded after the CRS.
	Rules []string `yaml:"rules" path:"file"`
	// Mode forces enforce or monitor for this stage; empty follows the route's mode.
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// Operations overrides settings per operation (operationId or "METHOD /template").
	Operations map[string]WAFOperation `yaml:"operations"`
}

// WAFOperation overrides the WAF for one operation.
type WAFOperation struct {
	// Enabled turns the WAF off (false) or on (true) for this operation.
	Enabled *bool `yaml:"enabled"`
	// ExcludeRules lists CRS rule IDs removed for this operation only.
	ExcludeRules []int `yaml:"exclude_rules"`
}

// setDefaults fills unset fields of WAF before decoding overwrites them.
func (c *WAF) setDefaults() {
	c.ParanoiaLevel = 1
	c.AnomalyThreshold = 5
	c.InspectBody = true
}

// validate reports problems in WAF; path is its YAML key path.
func (c *WAF) validate(p *Problems, path string) {
	if c.ParanoiaLevel < 1 || c.ParanoiaLevel > 4 {
		p.Errorf(path+".paranoia_level", "paranoia_level must be 1 to 4, not %d", c.ParanoiaLevel)
	}
	if c.AnomalyThreshold < 1 {
		p.Errorf(path+".anomaly_threshold", "anomaly_threshold must be at least 1")
	}
	checkMode(p, path+".mode", c.Mode, true)
	checkRuleIDs(p, path+".exclude_rules", c.ExcludeRules)
	for i, f := range c.Rules {
		checkFile(p, path+".rules["+strconv.Itoa(i)+"]", "rules file", f)
	}
	for key, o := range c.Operations {
		opath := path + ".operations." + key
		if err := checkRouteKey(key); err != nil {
			p.Errorf(opath, "%v", err)
		}
		checkRuleIDs(p, opath+".exclude_rules", o.ExcludeRules)
	}
	if !c.Enabled && (len(c.Operations) > 0 || len(c.Rules) > 0) {
		p.Warnf(path+".enabled", "waf is not enabled: its rules and operations have no effect")
	}
}

func checkRuleIDs(p *Problems, path string, ids []int) {
	for i, id := range ids {
		if id < 1 {
			p.Errorf(path+"["+strconv.Itoa(i)+"]", "rule id must be positive, not %d", id)
		}
	}
}
