package kemigen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

type decoder struct {
	file string
	errs ErrorList
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling set for each known key and reporting
// unknown and repeated keys. It returns false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, what string, known []string, set func(key string, k, v *yaml.Node)) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: want a mapping, got %s", what, kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if !contains(known, key) {
			msg := fmt.Sprintf("%s: unknown field %q", what, key)
			if s := nearest(key, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known: " + strings.Join(known, ", ") + ")"
			}
			d.errf(k, "%s", msg)
			continue
		}
		if seen[key] {
			d.errf(k, "%s: field %q given twice", what, key)
			continue
		}
		seen[key] = true
		set(key, k, v)
	}
	return true
}

func (d *decoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n, "%s: want a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errf(n, "%s: want true or false, got %s", what, kindName(n))
		return false
	}
	return n.Value == "true"
}

func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: want a list, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

func (d *decoder) ident(n *yaml.Node, what, s string) {
	if !isIdent(s) {
		d.errf(n, "%s: %q is not a valid identifier (letters, digits and _, not starting with a digit)", what, s)
	}
}

func (d *decoder) module(n *yaml.Node) *Module {
	m := &Module{}
	haveName := false
	rpcNodes := map[*RPC]*yaml.Node{}
	known := []string{"module", "files", "doc", "params", "functions", "pvs", "start", "stop", "reply_hooks", "http_hooks", "rpc", "rpc_prefix", "brings"}
	ok := d.fields(n, "module spec", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "module":
			haveName = true
			m.Name = d.str(v, "module")
			if m.Name != "" {
				d.ident(v, "module", m.Name)
			}
		case "files":
			for _, f := range d.list(v, "files") {
				s := d.str(f, "files")
				d.ident(f, "files", s)
				m.Files = append(m.Files, s)
			}
		case "doc":
			m.Doc = d.str(v, "doc")
		case "params":
			seen := map[string]*yaml.Node{}
			for _, pn := range d.list(v, "params") {
				p := d.modParam(pn)
				if p == nil {
					continue
				}
				if prev := seen[p.Name]; prev != nil {
					d.errf(pn, "module param %q declared twice (first at line %d)", p.Name, prev.Line)
					continue
				}
				seen[p.Name] = pn
				m.Params = append(m.Params, p)
			}
		case "functions":
			seen := map[string]*yaml.Node{}
			for _, fn := range d.list(v, "functions") {
				f := d.function(fn, m.Name)
				if f == nil {
					continue
				}
				for _, name := range append([]string{f.Name}, f.Aliases...) {
					if prev := seen[name]; prev != nil {
						d.errf(fn, "function %q declared twice (first at line %d)", name, prev.Line)
						continue
					}
					seen[name] = fn
				}
				m.Functions = append(m.Functions, f)
			}
		case "pvs":
			seen := map[string]*yaml.Node{}
			for _, pn := range d.list(v, "pvs") {
				var pv PV
				d.fields(pn, "pv", []string{"name", "doc", "get", "set"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "name":
						pv.Name = d.str(v, "pv name")
						d.ident(v, "pv name", pv.Name)
					case "doc":
						pv.Doc = d.str(v, "pv doc")
					case "get":
						pv.Get = d.str(v, "pv get")
						if pv.Get != "" {
							d.ident(v, "pv get", pv.Get)
						}
					case "set":
						pv.Set = d.str(v, "pv set")
						if pv.Set != "" {
							d.ident(v, "pv set", pv.Set)
						}
					}
				})
				if pv.Name == "" {
					d.errf(pn, "pv: missing name")
				}
				if pv.Name == "" {
					continue
				}
				if prev := seen[pv.Name]; prev != nil {
					d.errf(pn, "pv %q declared twice (first at line %d)", pv.Name, prev.Line)
					continue
				}
				seen[pv.Name] = pn
				m.PVs = append(m.PVs, &pv)
			}
		case "start":
			m.Start = d.goNames(v, "start")
		case "stop":
			m.Stop = d.goNames(v, "stop")
		case "reply_hooks":
			m.ReplyHooks = d.goNames(v, "reply_hooks")
		case "http_hooks":
			m.HTTPHooks = d.goNames(v, "http_hooks")
		case "brings":
			seen := map[string]bool{}
			for _, bn := range d.list(v, "brings") {
				s := d.str(bn, "brings")
				d.ident(bn, "brings", s)
				if seen[s] {
					d.errf(bn, "brings: module %q given twice", s)
					continue
				}
				seen[s] = true
				m.Brings = append(m.Brings, s)
			}
		case "rpc_prefix":
			m.RPCPrefix = d.str(v, "rpc_prefix")
			if m.RPCPrefix != "" {
				d.ident(v, "rpc_prefix", m.RPCPrefix)
			}
		case "rpc":
			seen := map[string]*yaml.Node{}
			for _, rn := range d.list(v, "rpc") {
				r := &RPC{}
				d.fields(rn, "rpc", []string{"name", "go", "doc"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "name":
						r.Name = d.str(v, "rpc name")
						// "module.command", each part an identifier, as Kamailio names them.
						for _, part := range strings.Split(r.Name, ".") {
							d.ident(v, "rpc name", part)
						}
					case "go":
						r.Go = d.str(v, "rpc go")
						if r.Go != "" {
							d.ident(v, "rpc go", r.Go)
						}
					case "doc":
						r.Doc = d.str(v, "rpc doc")
					}
				})
				if r.Name == "" {
					d.errf(rn, "rpc: missing name")
					continue
				}
				if r.Go == "" {
					d.errf(rn, "rpc %q: missing go (the Go function, a core.RPCFunc)", r.Name)
				}
				if prev := seen[r.Name]; prev != nil {
					d.errf(rn, "rpc %q declared twice (first at line %d)", r.Name, prev.Line)
					continue
				}
				seen[r.Name] = rn
				rpcNodes[r] = rn
				m.RPCs = append(m.RPCs, r)
			}
		}
	})
	if ok && !haveName {
		d.errf(n, "module spec: missing field \"module\" (use module: \"\" for the core)")
	}
	// An RPC method is "module.command" under the module's own name, or
	// under the prefix its spec declares (rpc_prefix: dlg for dialog, as
	// Kamailio names dialog's commands dlg.list and so on). The core's
	// methods (module "") are core.*, stats.*, cfg.*.
	for _, r := range m.RPCs {
		if m.Name == "" { // the core serves core.*, stats.*, cfg.*
			break
		}
		pre, _, found := strings.Cut(r.Name, ".")
		if !found || (pre != m.Name && (m.RPCPrefix == "" || pre != m.RPCPrefix)) {
			want := strconv.Quote(m.Name + ".")
			if m.RPCPrefix != "" {
				want += " or " + strconv.Quote(m.RPCPrefix+".")
			}
			d.errf(rpcNodes[r], "rpc %q: want a name starting with %s (module.command)", r.Name, want)
		}
	}
	sort.Slice(m.Functions, func(i, j int) bool { return m.Functions[i].Name < m.Functions[j].Name })
	sort.Slice(m.PVs, func(i, j int) bool { return m.PVs[i].Name < m.PVs[j].Name })
	sort.Slice(m.RPCs, func(i, j int) bool { return m.RPCs[i].Name < m.RPCs[j].Name })
	return m
}

// goNames reads a list of Go function names (start:, stop:,
// reply_hooks:), each a plain identifier given once.
func (d *decoder) goNames(n *yaml.Node, what string) []string {
	var out []string
	seen := map[string]bool{}
	for _, gn := range d.list(n, what) {
		s := d.str(gn, what)
		if s == "" {
			continue
		}
		d.ident(gn, what, s)
		if seen[s] {
			d.errf(gn, "%s: %q given twice", what, s)
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (d *decoder) modParam(n *yaml.Node) *ModParam {
	p := &ModParam{}
	var def *yaml.Node
	d.fields(n, "module param", []string{"name", "type", "default", "doc", "multi"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			p.Name = d.str(v, "module param name")
			d.ident(v, "module param name", p.Name)
		case "type":
			p.Type = d.str(v, "module param type")
			if !modParamTypes[p.Type] {
				d.errf(v, "module param %q: unknown type %q (want int or str)", p.Name, p.Type)
			}
		case "default":
			def = v
		case "doc":
			p.Doc = d.str(v, "module param doc")
		case "multi":
			p.Multi = d.boolean(v, "module param multi")
		}
	})
	if p.Name == "" {
		d.errf(n, "module param: missing name")
		return nil
	}
	if p.Type == "" {
		d.errf(n, "module param %q: missing type (int or str)", p.Name)
	}
	if def != nil {
		s := d.str(def, "module param default")
		if p.Type == "int" {
			if _, err := strconv.ParseInt(s, 0, 64); err != nil {
				d.errf(def, "module param %q: default %q is not an int", p.Name, s)
			}
		}
		p.Default = &s
	}
	return p
}

func (d *decoder) function(n *yaml.Node, module string) *Function {
	f := &Function{Examples: map[string]string{}}
	known := []string{"name", "aliases", "native", "params", "returns", "return_doc", "doc", "go", "examples", "fails", "outcome", "value", "gives"}
	var failsNode, valueNode, givesNode *yaml.Node
	var paramsNode, returnsNode *yaml.Node
	d.fields(n, "function", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			f.Name = d.str(v, "function name")
			d.ident(v, "function name", f.Name)
		case "aliases":
			for _, a := range d.list(v, "aliases") {
				s := d.str(a, "alias")
				d.ident(a, "alias", s)
				f.Aliases = append(f.Aliases, s)
			}
		case "native":
			f.Native = d.str(v, "native")
			d.ident(v, "native", f.Native)
		case "params":
			paramsNode = v
		case "returns":
			returnsNode = v
			f.Returns = d.str(v, "returns")
		case "return_doc":
			f.ReturnDoc = d.str(v, "return_doc")
		case "doc":
			f.Doc = d.str(v, "doc")
		case "go":
			f.Go = d.str(v, "go")
			d.ident(v, "go", f.Go)
		case "fails":
			f.Fails = d.boolean(v, "fails")
			failsNode = v
		case "examples":
			d.fields(v, "examples", engineKeys, func(key string, k, v *yaml.Node) {
				f.Examples[key] = d.str(v, "example")
			})
		case "gives":
			givesNode = v
			have := map[string]bool{}
			for _, n := range d.list(v, "gives") {
				g := "null" // a bare null in YAML
				if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
					g = d.str(n, "gives")
				}
				if !contains(xvalKinds, g) {
					d.errf(n, "gives: unknown kind %q (want int, str or null)", g)
					continue
				}
				if have[g] {
					d.errf(n, "gives: %q given twice", g)
					continue
				}
				have[g] = true
			}
			for _, g := range xvalKinds {
				if have[g] {
					f.Gives = append(f.Gives, g)
				}
			}
			if len(have) == 0 && len(d.list(v, "gives")) == 0 {
				d.errf(v, "gives: want at least one of int, str, null")
			}
		case "value":
			f.Value = d.boolean(v, "value")
			valueNode = v
		case "outcome":
			o := &Outcome{}
			before := len(d.errs)
			if d.fields(v, "outcome", []string{"sends", "log"}, func(key string, k, v *yaml.Node) {
				for _, n := range d.list(v, "outcome "+key) {
					s := d.str(n, "outcome "+key)
					if key == "sends" {
						o.Sends = append(o.Sends, s)
					} else {
						o.Log = append(o.Log, s)
					}
				}
			}) {
				if len(o.Sends) == 0 && len(o.Log) == 0 && len(d.errs) == before {
					d.errf(v, "outcome: want sends or log (or both)")
				}
				f.Outcome = o
			}
		}
	})
	if f.Name == "" {
		d.errf(n, "function: missing name")
		return nil
	}
	what := "function " + f.Name
	if paramsNode != nil {
		ps := d.list(paramsNode, what+": params")
		if len(ps) > MaxParams {
			d.errf(paramsNode, "%s: %d params, at most %d allowed", what, len(ps), MaxParams)
		}
		seen := map[string]bool{}
		for _, pn := range ps {
			p := &Param{}
			var checkNode *yaml.Node
			d.fields(pn, what+": param", []string{"name", "type", "doc", "check"}, func(key string, k, v *yaml.Node) {
				switch key {
				case "name":
					p.Name = d.str(v, "param name")
					d.ident(v, "param name", p.Name)
				case "type":
					p.Type = d.str(v, "param type")
					if _, ok := paramGoTypes[p.Type]; !ok {
						d.errf(v, "%s: param %q: unknown type %q (want int, str, bool or long)", what, p.Name, p.Type)
					}
				case "doc":
					p.Doc = d.str(v, "param doc")
				case "check":
					p.Check = d.str(v, "param check")
					checkNode = v
				}
			})
			if p.Name == "" {
				d.errf(pn, "%s: param without a name", what)
				continue
			}
			if checkNode != nil {
				if _, ok := paramChecks[p.Check]; !ok {
					d.errf(checkNode, "%s: param %q: unknown check %q (want line or hdrline)", what, p.Name, p.Check)
				} else if p.Type != "str" {
					d.errf(checkNode, "%s: param %q: check %q applies to str params, not %s", what, p.Name, p.Check, p.Type)
				}
			}
			if p.Type == "" {
				d.errf(pn, "%s: param %q: missing type (int, str, bool or long)", what, p.Name)
			}
			if seen[p.Name] {
				d.errf(pn, "%s: param %q declared twice", what, p.Name)
				continue
			}
			seen[p.Name] = true
			f.Params = append(f.Params, p)
		}
	}
	if returnsNode == nil {
		d.errf(n, "%s: missing returns (none, int, bool or xval)", what)
	} else if _, ok := returnGoTypes[f.Returns]; !ok {
		d.errf(returnsNode, "%s: unknown return type %q (want none, int, bool or xval)", what, f.Returns)
	} else if f.Fails && f.Returns == "xval" {
		d.errf(failsNode, "%s: fails is for int, bool and none functions; an xval one returns ctx.Fail(err)", what)
	}
	if f.Value && f.Returns != "int" && returnsNode != nil {
		d.errf(valueNode, "%s: value is for int returns (a count or a code rather than a status); %s is not a status anyway", what, f.Returns)
	}
	if givesNode != nil && f.Returns != "xval" && returnsNode != nil {
		d.errf(givesNode, "%s: gives narrows an xval return, not %s", what, f.Returns)
	}
	if f.Native == "" {
		f.Native = f.Name
	}
	if f.Go == "" {
		f.Go = goName(f.Name)
	}
	deriveExamples(module, f)
	return f
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}
