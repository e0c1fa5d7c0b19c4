package settings

import "fmt"

// SettingError is a bad setting, with where it came from.
type SettingError struct {
	Source string // "mysite.env:3" or "environment"
	Name   string
	Value  string
	Want   string
	line   int // in the file, for ordering
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s: %s: want %s, got %q", e.Source, e.Name, e.Want, e.Value)
}
