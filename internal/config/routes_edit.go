package config

import (
	"regexp"
	"strconv"
	"strings"
)

// validateEdits checks routes.<key>.deny, mask and constraints. Whether the
// operation and its fields exist is checked by the build, against the spec.
func (r *RouteOverride) validateEdits(p *Problems, path string) {
	if r.Deny && (len(r.Constraints) > 0 || len(r.Mask) > 0 || r.Mode != "") {
		p.Warnf(path+".deny", "deny is true: the operation is removed, its other settings have no effect")
	}
	for i, m := range r.Mask {
		if strings.TrimSpace(m) == "" {
			p.Errorf(path+".mask["+strconv.Itoa(i)+"]", "mask field name is empty")
		}
	}
	for field, c := range r.Constraints {
		fp := path + ".constraints." + field
		if in, name, ok := strings.Cut(field, ":"); ok {
			switch in {
			case "query", "path", "header", "cookie":
			default:
				ok = false
			}
			if !ok || name == "" {
				p.Errorf(fp, "field %q must be a JSON pointer (\"/title\") or query:NAME, path:NAME, header:NAME, cookie:NAME", field)
			}
		} else if !strings.HasPrefix(field, "/") || field == "/" {
			p.Errorf(fp, "field %q must be a JSON pointer (\"/title\") or query:NAME, path:NAME, header:NAME, cookie:NAME", field)
		}
		if c.MaxLength == nil && c.MinLength == nil && c.Pattern == "" && c.Format == "" &&
			len(c.Enum) == 0 && c.Minimum == nil && c.Maximum == nil && c.MaxItems == nil {
			p.Errorf(fp, "constraint sets no keyword")
		}
		for k, v := range map[string]*int64{"max_length": c.MaxLength, "min_length": c.MinLength, "max_items": c.MaxItems} {
			if v != nil && *v < 0 {
				p.Errorf(fp+"."+k, "%s must not be negative", k)
			}
		}
		if c.MaxLength != nil && c.MinLength != nil && *c.MinLength > *c.MaxLength {
			p.Errorf(fp+".min_length", "min_length %d is more than max_length %d", *c.MinLength, *c.MaxLength)
		}
		if c.Minimum != nil && c.Maximum != nil && *c.Minimum > *c.Maximum {
			p.Errorf(fp+".minimum", "minimum %v is more than maximum %v", *c.Minimum, *c.Maximum)
		}
		if c.Pattern != "" {
			if _, err := regexp.Compile(c.Pattern); err != nil {
				p.Errorf(fp+".pattern", "pattern: %v", err)
			}
		}
	}
}
