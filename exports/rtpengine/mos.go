package rtpengine

import (
	"strconv"

	"kemi/core"
	"kemi/exports/pv"
)

// The mos_* params: after a delete or a query, the call's MOS figures
// from rtpengine's reply go into the pseudo-variables they name, as
// Kamailio's module fills them: the lowest, highest and average MOS over
// the call's SSRCs (all of them, or those of the side whose label is
// mos_A_label_pv's or mos_B_label_pv's value), each with when it was
// reported (m:ss into the call), packet loss, jitter, round-trip times
// and samples. A MOS is printed as rtpengine gives it in tenths: 43 is
// "4.3".

// mosFields are the figures of one MOS entry, in param-name order.
var mosFields = [...]struct{ param, key string }{
	{"", "MOS"}, {"_at", "reported at"}, {"_packetloss", "packet loss"}, {"_jitter", "jitter"},
	{"_roundtrip", "round-trip time"}, {"_roundtrip_leg", "round-trip time leg"}, {"_samples", "samples"},
}

// mosGroup is one side's params: the label PV ("" for every SSRC) and the
// target PVs of min, max and average, by mosFields index.
type mosGroup struct {
	label string
	pvs   [3][len(mosFields)]string // min, max, average
	any   bool
}

// mosVals is one MOS entry, or a sum of them (n entries).
type mosVals struct {
	v [len(mosFields)]int64
	n int64
}

var mosKinds = [3]string{"min", "max", "average"}

// mosParams reads the mos_* params into the three groups (every SSRC,
// side A, side B); nil when none is set.
func mosParams(rt *core.Runtime) []*mosGroup {
	var out []*mosGroup
	for _, side := range [3]string{"", "_A", "_B"} {
		g := &mosGroup{}
		if side != "" {
			g.label = rt.Param("rtpengine", "mos"+side+"_label_pv").S
		}
		for k, kind := range mosKinds {
			for f, fd := range mosFields {
				v := rt.Param("rtpengine", "mos_"+kind+fd.param+side+"_pv")
				if v.Kind == core.KStr && v.S != "" {
					g.pvs[k][f] = v.S
					g.any = true
				}
			}
		}
		if g.any && (side == "" || g.label != "") {
			out = append(out, g)
		}
	}
	return out
}

// ssrcOf is the SSRC of a stream: its SSRC, or its first ingress SSRC's.
func ssrcOf(stream Dict) (int64, bool) {
	if n, ok := stream.Int("SSRC"); ok {
		return n, true
	}
	in, _ := stream["ingress SSRCs"].([]any)
	if len(in) == 0 {
		return 0, false
	}
	d, _ := in[0].(Dict)
	return d.Int("SSRC")
}

// labelSSRCs finds the SSRCs (at most 4, the first stream of each media)
// of the tag whose label is label.
func labelSSRCs(d Dict, label string) []int64 {
	var out []int64
	for _, tv := range d.Dict("tags") {
		tag, _ := tv.(Dict)
		if tag.Str("label") != label {
			continue
		}
		medias, _ := tag["medias"].([]any)
		for _, m := range medias {
			md, _ := m.(Dict)
			streams, _ := md["streams"].([]any)
			if len(streams) == 0 {
				continue
			}
			sd, _ := streams[0].(Dict)
			if s, ok := ssrcOf(sd); ok {
				out = append(out, s)
				if len(out) == 4 {
					return out
				}
			}
		}
	}
	return out
}

func decodeMOS(d Dict, key string) (mosVals, bool) {
	e := d.Dict(key)
	if e == nil {
		return mosVals{}, false
	}
	var v mosVals
	for i, f := range mosFields {
		n, ok := e.Int(f.key)
		if !ok {
			n = -1
		}
		v.v[i] = n
	}
	v.n = 1
	return v, true
}

// setMOS fills the pseudo-variables of the call's MOS figures from d.
func setMOS(ctx *core.Ctx, groups []*mosGroup, d Dict) {
	for _, g := range groups {
		var want []int64
		if g.label != "" {
			label := pv.Get(ctx, g.label)
			if label.IsNull() {
				continue
			}
			if want = labelSSRCs(d, label.String()); len(want) == 0 {
				continue
			}
		}
		var min, max, avg mosVals
		min.v[0], max.v[0] = 100, -1
		for key, sv := range d.Dict("SSRC") {
			sd, _ := sv.(Dict)
			if sd == nil {
				continue
			}
			if want != nil {
				n, err := strconv.ParseInt(key, 10, 64)
				found := false
				for _, w := range want {
					found = found || (err == nil && w == n)
				}
				if !found {
					continue
				}
			}
			if v, ok := decodeMOS(sd, "average MOS"); ok && v.v[0] > 0 {
				avg.n++
				for i := range avg.v {
					if i != 1 { // "reported at" is not averaged
						avg.v[i] += v.v[i]
					}
				}
			}
			if v, ok := decodeMOS(sd, "highest MOS"); ok && v.v[0] > max.v[0] {
				max = v
			}
			if v, ok := decodeMOS(sd, "lowest MOS"); ok && v.v[0] > 0 && v.v[0] < min.v[0] {
				min = v
			}
		}
		created, _ := d.Int("created")
		for k, vals := range [3]mosVals{min, max, avg} {
			if vals.n == 0 {
				continue
			}
			for f := range mosFields {
				name := g.pvs[k][f]
				if name == "" {
					continue
				}
				var s string
				switch f {
				case 0: // tenths
					m := vals.v[0] / vals.n
					s = strconv.FormatInt(m/10, 10) + "." + strconv.FormatInt(abs(m%10), 10)
				case 1: // m:ss after the call began
					t := vals.v[1] - created
					sec := abs(t % 60)
					s = strconv.FormatInt(t/60, 10) + ":" + string(rune('0'+sec/10)) + string(rune('0'+sec%10))
				default:
					s = strconv.FormatInt(vals.v[f]/vals.n, 10)
				}
				pv.Sets(ctx, name, s)
			}
		}
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
