package tmx

import (
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func TestRouteKinds(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder())
	for _, c := range []struct {
		route                   core.RouteKind
		branch, failure, onrepl int
	}{
		{core.RequestRoute, -1, -1, -1},
		{core.BranchRoute, 1, -1, -1},
		{core.FailureRoute, -1, 1, -1},
		{core.OnReplyRoute, -1, -1, 1},
		{core.ReplyRoute, -1, -1, 1},
	} {
		ctx.Route = c.route
		if got := IsBranchRoute(ctx); got != c.branch {
			t.Errorf("route %d: t_is_branch_route = %d, want %d", c.route, got, c.branch)
		}
		if got := IsFailureRoute(ctx); got != c.failure {
			t.Errorf("route %d: t_is_failure_route = %d, want %d", c.route, got, c.failure)
		}
		if got := IsReplyRoute(ctx); got != c.onrepl {
			t.Errorf("route %d: t_is_reply_route = %d, want %d", c.route, got, c.onrepl)
		}
	}
}

func TestPrecheckWithoutTM(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder())
	if got := PrecheckTrans(ctx); got != -1 {
		t.Errorf("t_precheck_trans without tm started = %d, want -1", got)
	}
}
