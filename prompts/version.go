package prompts

import (
	"fmt"
	"strconv"
	"strings"
)

// Semver is a parsed semantic version.
type Semver struct {
	Major, Minor, Patch int
	Pre                 string
}

// ParseSemver parses "1.2.3" or "1.2.3-rc.1".
func ParseSemver(s string) (Semver, error) {
	var v Semver
	core, pre, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q is not semver (MAJOR.MINOR.PATCH)", s)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return v, fmt.Errorf("version %q is not semver (MAJOR.MINOR.PATCH)", s)
		}
		nums[i] = n
	}
	return Semver{nums[0], nums[1], nums[2], pre}, nil
}

// Compare returns -1, 0 or +1. A pre-release sorts before its release.
func Compare(a, b Semver) int {
	for _, d := range []int{a.Major - b.Major, a.Minor - b.Minor, a.Patch - b.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	switch {
	case a.Pre == b.Pre:
		return 0
	case a.Pre == "":
		return 1
	case b.Pre == "":
		return -1
	case a.Pre < b.Pre:
		return -1
	}
	return 1
}

// CompareStrings compares two version strings, falling back to string order
// for non-semver values (model versions are often plain integers: "7" < "12").
func CompareStrings(a, b string) int {
	va, ea := ParseSemver(a)
	vb, eb := ParseSemver(b)
	if ea == nil && eb == nil {
		return Compare(va, vb)
	}
	na, ea := strconv.Atoi(a)
	nb, eb := strconv.Atoi(b)
	if ea == nil && eb == nil {
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}
