package acc

import (
	"strconv"

	"kemi/core"
	"kemi/exports/dialog"
)

// CDRs: with cdr_enable, each answered dialog that ends writes a record
// of type cdr: cdr_start_id, cdr_end_id and cdr_duration_id (Unix seconds
// and seconds), the dialog's Call-ID, From and To tags, then cdr_extra
// evaluated on the dialog's INVITE as kept ($fU, $tU, $ru, $ci...) with
// $dlg_var and $dlg reading the dialog.

func (m *Module) cdr(d *dialog.Dialog) {
	if !d.Answered() {
		return
	}
	e := m.pool.Get().(*evalCtx)
	defer m.pool.Put(e)
	e.buf = append(e.buf[:0], dialog.FakeRequest(d)...)
	if e.req.Parse(e.buf) != nil {
		return
	}
	e.ctx.Reset(&e.req, d.CallerAddr, d.Local, core.UDP)
	e.ctx.RT = m.rt
	dialog.Bind(&e.ctx, d)
	r := Record{Text: TextCDR, Time: d.EndTS}
	dur := d.EndTS - d.StartTS
	if dur < 0 {
		dur = 0
	}
	r.Extra = append(r.Extra,
		[2]string{m.cdrStart, strconv.FormatInt(d.StartTS, 10)},
		[2]string{m.cdrEnd, strconv.FormatInt(d.EndTS, 10)},
		[2]string{m.cdrDur, strconv.FormatInt(dur, 10)},
		[2]string{"call_id", d.CallID},
		[2]string{"from_tag", d.FromTag},
		[2]string{"to_tag", d.ToTag})
	r.Extra = evalExtras(&e.ctx, m.cdrExtras, r.Extra)
	_ = m.Write(&r)
	if m.db != nil && m.db.tableCDRs != "" {
		ids := [3]string{m.cdrStart, m.cdrEnd, m.cdrDur}
		if err := m.db.insertCDR(ids, d.StartTS, d.EndTS, r.Extra[6:]); err != nil {
			m.dbFail(m.db.tableCDRs, &r, err)
		}
	}
}
