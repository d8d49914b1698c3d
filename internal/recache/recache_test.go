package recache

import (
	"strconv"
	"testing"
)

func TestCompile(t *testing.T) {
	c := New("(?i)")
	re, err := c.Compile("^ab+c$")
	if err != nil || !re.MatchString("ABBC") {
		t.Fatalf("Compile: %v, matches ABBC: %v", err, err == nil && re.MatchString("ABBC"))
	}
	again, _ := c.Compile("^ab+c$")
	if again != re {
		t.Error("the second Compile of the same expression compiled it again")
	}
	if _, err := c.Compile("(unclosed"); err == nil {
		t.Error("a bad expression compiled")
	}
	if n := testing.AllocsPerRun(100, func() { c.Compile("^ab+c$") }); n != 0 {
		t.Errorf("a cached Compile allocates %v times", n)
	}
}

func TestBounded(t *testing.T) {
	c := New("")
	for i := 0; i < MaxEntries+10; i++ {
		if _, err := c.Compile("x" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) != MaxEntries {
		t.Errorf("cache holds %d expressions, want the bound %d", len(c.m), MaxEntries)
	}
}
