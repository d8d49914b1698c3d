package tm

import (
	"errors"
	"testing"
	"time"

	"kemi/core"
	"kemi/sip"
)

// TestSuspendContinue_OnceAndStale covers tmx's t_suspend/t_continue
// (issue 14): the continuation runs on tm's own goroutine with the kept
// request, in a failure route's context, and relays on the same
// transaction; a second t_continue of the same label, a wrong label and a
// continuation after the transaction ended are refused; a retransmission
// of the suspended request is absorbed.
func TestSuspendContinue_OnceAndStale(t *testing.T) {
	r := newRig(t)
	var index, label uint32
	calls := 0
	r.route = func(ctx *core.Ctx) {
		calls++
		i, l, ok := Suspend(ctx)
		if calls > 1 {
			// The retransmission: t_newtran absorbs it, nothing to suspend.
			if ok {
				t.Error("t_suspend took a retransmission")
			}
			return
		}
		if !ok {
			t.Errorf("t_suspend failed: %s", r.log.String())
		}
		index, label = i, l
		if i, l, ok := SuspendedIDs(ctx); !ok || i != index || l != label {
			t.Errorf("$T(id_index/id_label) = %d %d %v, want %d %d", i, l, ok, index, label)
		}
	}
	inv := invite("z9hG4bK-susp1")
	r.in(inv, uac)
	r.expect("suspended: nothing sent")
	r.in(inv, uac) // a retransmission while suspended
	r.expect("retransmission absorbed")

	done := make(chan string, 1)
	r.vm["resume"] = func(ctx *core.Ctx) {
		kind := "other"
		if ctx.Route == core.FailureRoute {
			kind = "failure"
		}
		done <- string(ctx.Msg.CallID()) + " " + kind
		ctx.DstURI = "sip:" + uas.String()
		if Relay(ctx) < 0 {
			t.Error("t_relay in the continuation failed")
		}
	}
	if err := r.tm.Continue(index, label+1, "resume", nil, nil); !errors.Is(err, ErrNotSuspended) {
		t.Errorf("a wrong label: got %v", err)
	}
	marked := false
	if err := r.tm.Continue(index, label, "resume", func(*core.Ctx) { marked = true }, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if want := string(msgCallID(t, inv)) + " failure"; got != want || !marked {
			t.Errorf("continuation ran with %q (want %q), prep ran: %v", got, want, marked)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the continuation did not run")
	}
	if err := r.tm.Continue(index, label, "resume", nil, nil); !errors.Is(err, ErrNotSuspended) {
		t.Errorf("a second t_continue: got %v", err)
	}
	r.tm.stopAsync() // waits for the goroutine: the relay is done
	r.expect("the continuation relayed on the transaction", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String())

	// A suspended transaction ends with fr_timer + wt_timer; continuing
	// it after that finds nothing.
	r2 := newRig(t)
	r2.route = func(ctx *core.Ctx) { index, label, _ = Suspend(ctx) }
	r2.in(invite("z9hG4bK-susp2"), uac)
	r2.advance(70 * time.Second) // RFC timers: fr 32 s, wait 32 s
	if err := r2.tm.Continue(index, label, "resume", nil, nil); !errors.Is(err, ErrNotSuspended) {
		t.Errorf("continuing an ended transaction: got %v", err)
	}
	if r2.tm.Live() != 0 {
		t.Errorf("%d transactions left after fr_timer + wt_timer", r2.tm.Live())
	}
}

func msgCallID(t *testing.T, raw []byte) string {
	var m sip.Msg
	if err := m.Parse(append([]byte(nil), raw...)); err != nil {
		t.Fatal(err)
	}
	return string(m.CallID())
}
