package core

// Clock is monotonic time in nanoseconds from an arbitrary origin, what
// modules' timers (tm's) are measured against.
type Clock interface {
	Now() int64
}

// SteppedClock is a Clock that moves only when told to (kemi test's fake
// clock). Timers of a runtime whose Clock is a SteppedClock run no
// goroutine of their own: they register with OnAdvance and fire, in the
// caller's goroutine, each time the clock is moved.
type SteppedClock interface {
	Clock
	OnAdvance(fire func(now int64))
}
