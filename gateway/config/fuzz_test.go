package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes the loader panic or hang, and whatever it
// accepts is a configuration that validates again after defaults.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML)
	f.Add([]byte(good))
	if files, _ := filepath.Glob("../../deploy/*.yaml"); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if c.HTTP.Listen == "" || c.HTTP.MaxBodyBytes <= 0 {
			t.Fatalf("accepted configuration without defaults: %+v", c.HTTP)
		}
		for _, r := range c.Routes {
			if r.Target.Timeout <= 0 || r.Name == "" {
				t.Fatalf("accepted route without defaults: %+v", r)
			}
		}
	})
}
