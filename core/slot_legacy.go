package core

// Deprecated per-Ctx slots, kept while modules move to MsgState; removed
// once none uses them.

const maxSlots = 32

var nextSlot int

// NewSlot reserves a per-Ctx slot. Deprecated: use NewMsgState.
func NewSlot() int {
	if nextSlot >= maxSlots {
		panic("core.NewSlot: out of slots; raise maxSlots")
	}
	nextSlot++
	return nextSlot - 1
}

// Slot returns the state kept in slot i. Deprecated: use MsgState.
func (c *Ctx) Slot(i int, mk func() any) any {
	v := c.slots[i]
	if v == nil {
		v = mk()
		c.slots[i] = v
	}
	return v
}
