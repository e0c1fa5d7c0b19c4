package settings

import "fmt"

// SettingError is a bad setting, with where it came from.
type SettingError struct {
	Source string // "mysite.env:3" or "environment"
	Name   string
	Value  string
	Want   string
	// Where in which file, for ordering: file 0 is the environment, then
	// 1 + the file's layer (see EnvFile.Over).
	file, line int
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s: %s: want %s, got %q", e.Source, e.Name, e.Want, e.Value)
}
