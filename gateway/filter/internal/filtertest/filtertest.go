// Package filtertest holds what the filter packages' tests share.
package filtertest

import (
	"errors"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode returns a FilterSpec.Decode that decodes the YAML src strictly,
// as the configuration does: unknown keys and values of the wrong type
// are errors. An empty src decodes nothing.
func Decode(src string) func(any) error {
	return func(v any) error {
		if strings.TrimSpace(src) == "" {
			return nil
		}
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
}
