package recurrence

import "time"

// maxZoneNameLen bounds the time zone names LoadLocation looks up; the
// longest IANA name is about 30 bytes.
const maxZoneNameLen = 64

// LoadLocation returns the IANA time zone name ("Europe/Berlin", "UTC").
// It refuses "", "Local" (the server's zone is no property of a series) and
// every name time.LoadLocation refuses. Names are case-sensitive and are not
// trimmed: the name given is the name stored.
func LoadLocation(name string) (*time.Location, error) {
	const hint = `an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"`
	switch {
	case name == "":
		return nil, invalidf("time zone is required: use %s", hint)
	case name == "Local":
		return nil, invalidf("time zone %q is not allowed: use %s", name, hint)
	case len(name) > maxZoneNameLen:
		return nil, invalidf("time zone name is %d bytes long; use %s", len(name), hint)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalidf("unknown time zone %q: use %s", name, hint)
	}
	return loc, nil
}
