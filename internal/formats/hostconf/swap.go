package hostconf

import (
	"fmt"
	"strings"
)

// SwapLine is an fstab line that swaps to a disk: its type is swap (as
// getmntent reads the third field) and what it names is not a zram device
// (zram is RAM, compressed; the swap task keeps it).
type SwapLine struct {
	Line int
	// What is the device or file, as the generator reads it.
	What string
	// start is the byte offset of the line in the file.
	start int
}

// swapOffMark starts a swap line the swap task has turned off: a comment
// to every reader of fstab (getmntent and libmount skip a line whose
// first non-blank is '#'), and to a person, who did it.
const swapOffMark = "#ezedge-host swap off# "

// DiskSwapLines are the lines of fstab b that swap to a disk, in file order.
func DiskSwapLines(b []byte) []SwapLine {
	var out []SwapLine
	starts := lineStarts(b)
	for _, e := range ParseFstab(b) {
		if e.Type != "swap" || IsZram(e.What) {
			continue
		}
		out = append(out, SwapLine{Line: e.Line, What: e.What, start: starts[e.Line-1]})
	}
	return out
}

// SwappedOff are the lines of fstab b that SwapOff made comments of.
func SwappedOff(b []byte) []int {
	var out []int
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, swapOffMark) {
			out = append(out, i+1)
		}
	}
	return out
}

// IsZram reports whether a swap area's device is a zram device.
func IsZram(what string) bool { return strings.HasPrefix(what, "/dev/zram") }

// lineStarts is the byte offset of each line of b.
func lineStarts(b []byte) []int {
	starts := []int{0}
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// SwapOff is b with each of lines turned into a comment: swapOffMark
// inserted at the line's start, every other byte kept. Lines are found
// again in b by their offsets, so it is applied to the bytes DiskSwapLines
// read.
func SwapOff(b []byte, lines []SwapLine) []byte {
	out := make([]byte, 0, len(b)+len(lines)*len(swapOffMark))
	at := 0
	for _, l := range lines {
		out = append(out, b[at:l.start]...)
		out = append(out, swapOffMark...)
		at = l.start
	}
	return append(out, b[at:]...)
}

// SaysSwapOff is the edit in words, for the plan's notes.
func SaysSwapOff(lines []SwapLine) string {
	var ws []string
	for _, l := range lines {
		ws = append(ws, fmt.Sprintf("%d (%s)", l.Line, l.What))
	}
	return "turns fstab's swap " + plural(len(lines), "line ", "lines ") + strings.Join(ws, ", ") + plural(len(lines), " into a comment", " into comments") + " (" + strings.TrimSpace(swapOffMark) + "), every other byte kept"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
