package whitelabel

import "testing"

func TestPathMatches(t *testing.T) {
	tests := []struct {
		name         string
		prefix, path string
		want         bool
	}{
		{"equal", "/public", "/public", true},
		{"next segment", "/public", "/public/x", true},
		{"trailing slash on path", "/public", "/public/", true},
		{"longer segment", "/public", "/publicity", false},
		{"longer segment with slash after", "/public", "/publicity/x", false},
		{"shorter", "/public", "/pub", false},
		{"slash prefix, under it", "/public/", "/public/x", true},
		{"slash prefix, the directory itself", "/public/", "/public", false},
		{"root", "/", "/anything/at/all", true},
		{"other path", "/public", "/app/public", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PathMatches(tt.prefix, tt.path); got != tt.want {
				t.Errorf("PathMatches(%q, %q) = %v, want %v", tt.prefix, tt.path, got, tt.want)
			}
		})
	}
}
