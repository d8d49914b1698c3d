package config

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"debug", "debug", 0},
		{"debgu", "debug", 1}, // a swap is one edit
		{"chidlren", "children", 1},
		{"chidren", "children", 1},
		{"fr_timr", "fr_timer", 1},
		{"tm", "sl", 2},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"children", "debug", "tm", "tmx", "sl", "port"}
	tests := []struct{ in, want string }{
		{"chidlren", "children"},
		{"DEBUG", "debug"},
		{"tn", "tm"}, // short names allow one edit
		{"xyz", ""},  // nothing near
		{"prot", "port"},
		{"s", ""}, // one letter is too little to guess from
		{"tmxx", "tmx"},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, names); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
