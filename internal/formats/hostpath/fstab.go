package hostpath

import "strings"

// getmntentDecode decodes an fstab field as glibc's getmntent does
// (decode_name, misc/mntent_r.c): \040 is a blank, \011 a tab, \012 a
// newline, \134 and \\ a backslash; every other backslash is itself.
// systemd up to 258 reads /etc/fstab through it.
func getmntentDecode(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			switch rest := s[i+1:]; {
			case strings.HasPrefix(rest, "040"):
				b.WriteByte(' ')
				i += 3
				continue
			case strings.HasPrefix(rest, "011"):
				b.WriteByte('\t')
				i += 3
				continue
			case strings.HasPrefix(rest, "012"):
				b.WriteByte('\n')
				i += 3
				continue
			case strings.HasPrefix(rest, `\`):
				b.WriteByte('\\')
				i++
				continue
			case strings.HasPrefix(rest, "134"):
				b.WriteByte('\\')
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// octalDecode decodes every \NNN of three octal digits as util-linux's
// unmangle does (lib/mangle.c): 64*a + 8*b + c, kept to a byte as C's char
// keeps it; a resulting NUL ends the string, as it ends a C string. The
// kernel's /proc/mounts escapes are of this form too.
func octalDecode(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+3 < len(s) && isOctalDigit(s[i+1]) && isOctalDigit(s[i+2]) && isOctalDigit(s[i+3]) {
			c = byte(64*int(s[i+1]-'0') + 8*int(s[i+2]-'0') + int(s[i+3]-'0'))
			i += 3
		}
		if c == 0 {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isOctalDigit(c byte) bool { return c >= '0' && c <= '7' }

// Getmntent is an fstab field as glibc's getmntent() hands it over (the
// type, the options): its four escapes decoded.
func Getmntent(field string) string { return getmntentDecode(field) }
