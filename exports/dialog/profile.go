package dialog

// profile counts the dialogs in it, in all and per value. The Module's
// mu guards it.
type profile struct {
	name      string
	withValue bool
	all       int
	byValue   map[string]int
}

func newProfile(name string, withValue bool) *profile {
	p := &profile{name: name, withValue: withValue}
	if withValue {
		p.byValue = map[string]int{}
	}
	return p
}

// add puts d into p with value (ignored for a profile without values).
// A dialog is in a profile with a value once. m.mu held.
func (p *profile) add(d *Dialog, value string) {
	if !p.withValue {
		value = ""
	}
	for _, l := range d.profiles {
		if l.p == p && l.value == value {
			return
		}
	}
	d.profiles = append(d.profiles, link{p, value})
	p.all++
	if p.withValue {
		p.byValue[value]++
	}
}

// unlink takes d out of p (every value when value is "" on a profile
// with values). It reports whether d was in it. m.mu held.
func (p *profile) unlink(d *Dialog, value string, any bool) bool {
	found := false
	out := d.profiles[:0]
	for _, l := range d.profiles {
		if l.p == p && (any || l.value == value) {
			p.remove(d, l.value)
			found = true
			continue
		}
		out = append(out, l)
	}
	d.profiles = out
	return found
}

// remove drops one membership count. m.mu held.
func (p *profile) remove(_ *Dialog, value string) {
	p.all--
	if p.withValue {
		if n := p.byValue[value] - 1; n > 0 {
			p.byValue[value] = n
		} else {
			delete(p.byValue, value)
		}
	}
}

// size is the count of value, or of all dialogs when value is "".
func (p *profile) size(value string) int {
	if !p.withValue || value == "" {
		return p.all
	}
	return p.byValue[value]
}

// in reports whether d is in p (with value, when one is given).
func (p *profile) in(d *Dialog, value string) bool {
	for _, l := range d.profiles {
		if l.p == p && (value == "" || !p.withValue || l.value == value) {
			return true
		}
	}
	return false
}
