package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"

	"github.com/jointcell/jointcell/internal/pattern"
)

// cmdPattern validates and matches STIX patterns with the command-line
// behaviour of the reference tools, so results can be compared line for
// line: "validate -f FILE" is stix2-patterns' validate-patterns and
// "match" is stix2-matcher (see docs/patterning.md).
func cmdPattern(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		patternUsage(e.stderr)
		return 2
	}
	switch args[0] {
	case "validate":
		return patternValidate(e, args[1:])
	case "match":
		return patternMatch(ctx, e, args[1:])
	case "-h", "--help", "help":
		patternUsage(e.stdout)
		return 0
	}
	return fail(e, "pattern: unknown subcommand %q (want validate or match)", args[0])
}

func patternUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: jointcell pattern validate [-f FILE] [-v VERSION] [PATTERN]")
	fmt.Fprintln(w, "       jointcell pattern match -p PATTERNS -f FILE [-s VERSION] [-e ENCODING] [-q] [-v]")
}

// optSpec describes one option of an argparse-style command line.
type optSpec struct {
	short, long string
	value       bool // takes an argument
}

// parsePyArgs parses argv the way Python's argparse does for the reference
// tools: "-f X", "-fX", "--file X", "--file=X", unambiguous long-option
// prefixes, bundled flags ("-qq"), and "--" ending the options. Flag
// options are counted.
func parsePyArgs(argv []string, specs []optSpec) (vals map[string]string, counts map[string]int, pos []string, err error) {
	vals, counts = map[string]string{}, map[string]int{}
	find := func(long string) (optSpec, error) {
		var hit []optSpec
		for _, s := range specs {
			if s.long == long {
				return s, nil
			}
			if strings.HasPrefix(s.long, long) {
				hit = append(hit, s)
			}
		}
		if len(hit) == 1 {
			return hit[0], nil
		}
		if len(hit) > 1 {
			return optSpec{}, fmt.Errorf("ambiguous option: --%s", long)
		}
		return optSpec{}, fmt.Errorf("unrecognized arguments: --%s", long)
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			pos = append(pos, argv[i+1:]...)
			return
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			s, ferr := find(name)
			if ferr != nil {
				return nil, nil, nil, ferr
			}
			if !s.value {
				if hasVal {
					return nil, nil, nil, fmt.Errorf("argument --%s: ignored explicit argument %q", s.long, val)
				}
				counts[s.long]++
				continue
			}
			if !hasVal {
				if i+1 >= len(argv) || (strings.HasPrefix(argv[i+1], "-") && argv[i+1] != "-") {
					return nil, nil, nil, fmt.Errorf("argument -%s/--%s: expected one argument", s.short, s.long)
				}
				i++
				val = argv[i]
			}
			vals[s.long] = val
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				var s optSpec
				ok := false
				for _, sp := range specs {
					if sp.short == a[j:j+1] {
						s, ok = sp, true
					}
				}
				if !ok {
					return nil, nil, nil, fmt.Errorf("unrecognized arguments: %s", a)
				}
				if !s.value {
					counts[s.long]++
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(argv) || (strings.HasPrefix(argv[i+1], "-") && argv[i+1] != "-") {
						return nil, nil, nil, fmt.Errorf("argument -%s/--%s: expected one argument", s.short, s.long)
					}
					i++
					val = argv[i]
				}
				vals[s.long] = val
				break
			}
		default:
			pos = append(pos, a)
		}
	}
	return
}

// decodeText decodes file content as Python's text mode does with the
// given encoding, universal newlines included. bad is the byte offset of
// the first undecodable byte, or -1.
func decodeText(data []byte, encName string) (text string, bad int, err error) {
	enc := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(encName))
	switch enc {
	case "utf8sig":
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		fallthrough
	case "utf8", "u8", "utf", "cp65001":
		bad = -1
		if !utf8.Valid(data) {
			for i := 0; i < len(data); {
				r, n := utf8.DecodeRune(data[i:])
				if r == utf8.RuneError && n <= 1 {
					bad = i
					break
				}
				i += n
			}
		}
		text = string(data)
	case "latin1", "latin", "l1", "iso88591", "iso885911987", "8859", "cp819":
		var b strings.Builder
		for _, c := range data {
			b.WriteRune(rune(c))
		}
		text, bad = b.String(), -1
	case "ascii", "usascii", "646":
		bad = -1
		for i, c := range data {
			if c >= 0x80 {
				bad = i
				break
			}
		}
		text = string(data)
	default:
		var dec *encoding.Decoder
		switch enc {
		case "utf16", "u16":
			dec = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		case "utf16le":
			dec = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder()
		case "utf16be":
			dec = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder()
		case "utf32", "u32":
			dec = utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM).NewDecoder()
		case "utf32le":
			dec = utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM).NewDecoder()
		case "utf32be":
			dec = utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM).NewDecoder()
		case "cp1252", "windows1252":
			dec = charmap.Windows1252.NewDecoder()
		case "latin9", "iso885915", "l9":
			dec = charmap.ISO8859_15.NewDecoder()
		default:
			return "", -1, fmt.Errorf("LookupError: unknown encoding: %s", encName)
		}
		out, err := dec.Bytes(data)
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) && !bytes.Contains(data, []byte("\xef\xbf\xbd")) {
			// Undecodable input: Python fails on the first read.
			return "", 0, nil
		}
		text, bad = string(out), -1
	}
	return text, bad, nil
}

// pyLines splits text as Python's readline does in text mode: universal
// newlines, each line keeping its "\n". With bad >= 0 (an undecodable byte
// there), only the lines that Python yields before the decoding error, in
// its 8 KiB reads, are returned.
func pyLines(text string, bad int) []string {
	limit := len(text)
	if bad >= 0 {
		limit = bad / 8192 * 8192
	}
	var out []string
	i := 0
	for i < len(text) {
		j := i
		for j < len(text) && text[j] != '\n' && text[j] != '\r' {
			j++
		}
		end := j
		line := text[i:j]
		if j < len(text) {
			line += "\n"
			end = j + 1
			if text[j] == '\r' && j+1 < len(text) && text[j+1] == '\n' {
				end = j + 2
			}
		}
		if end > limit {
			break
		}
		out = append(out, line)
		i = end
	}
	return out
}

// validateSpecs are validate-patterns' options.
var validateSpecs = []optSpec{{"f", "file", true}, {"v", "version", true}, {"h", "help", false}}

func patternValidate(e *env, args []string) int {
	vals, counts, pos, err := parsePyArgs(args, validateSpecs)
	if err != nil {
		fmt.Fprintln(e.stderr, "usage: jointcell pattern validate [-h] [-f FILE] [-v VERSION] [PATTERN]")
		fmt.Fprintf(e.stderr, "jointcell pattern validate: error: %v\n", err)
		return 2
	}
	if counts["help"] > 0 {
		fmt.Fprintln(e.stdout, "usage: jointcell pattern validate [-h] [-f FILE] [-v VERSION] [PATTERN]")
		return 0
	}
	version := pattern.Version21
	if v, ok := vals["version"]; ok {
		version = v
	}
	if version != pattern.Version21 {
		version = pattern.Version20
	}
	file, haveFile := vals["file"]
	if !haveFile && len(pos) == 1 {
		// A pattern on the command line: a jointcell convenience.
		msgs, crash := pattern.ValidateReport(pos[0], version)
		if crash != "" {
			fmt.Fprintf(e.stderr, "FAIL: %s\n", crash)
			return 1
		}
		if len(msgs) == 0 {
			fmt.Fprintf(e.stdout, "PASS: %s\n", pos[0])
			return 0
		}
		for _, m := range msgs {
			fmt.Fprintln(e.stderr, m)
		}
		return 1
	}
	if len(pos) > 0 {
		fmt.Fprintln(e.stderr, "usage: jointcell pattern validate [-h] [-f FILE] [-v VERSION] [PATTERN]")
		fmt.Fprintf(e.stderr, "jointcell pattern validate: error: unrecognized arguments: %s\n", strings.Join(pos, " "))
		return 2
	}
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	// One run of the reference keeps parser state from pattern to pattern.
	sess := &pattern.ValidationSession{}
	pass, failed := 0, 0
	var lines []string
	bad := -1
	if haveFile {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(e.stderr, "usage: jointcell pattern validate [-h] [-f FILE] [-v VERSION] [PATTERN]")
			fmt.Fprintf(e.stderr, "jointcell pattern validate: error: argument -f/--file: can't open '%s': %v\n", file, err)
			return 2
		}
		var text string
		text, bad, _ = decodeText(data, "utf-8")
		lines = pyLines(text, bad)
	} else {
		// validate-patterns without -f prompts for patterns on standard
		// input until end of input or an empty line.
		data, _ := io.ReadAll(e.stdin)
		text, b, _ := decodeText(data, "utf-8")
		bad = b
		for _, l := range pyLines(text, b) {
			l = strings.TrimSuffix(l, "\n")
			fmt.Fprint(w, "Enter a pattern to validate: ")
			if l == "" {
				bad = -1
				lines = nil
				goto totals
			}
			if !validateLine(e, w, sess, l, version, &pass, &failed) {
				return 1
			}
		}
		if bad < 0 {
			fmt.Fprint(w, "Enter a pattern to validate: ")
		}
		lines = nil
	}
	for _, l := range lines {
		if !validateLine(e, w, sess, l, version, &pass, &failed) {
			return 1
		}
	}
totals:
	if bad >= 0 {
		w.Flush()
		fmt.Fprintln(e.stderr, "Traceback (most recent call last):\nUnicodeDecodeError: 'utf-8' codec can't decode the input")
		return 1
	}
	fmt.Fprintf(w, "\nPASSED: %d  patterns\n", pass)
	fmt.Fprintf(w, "FAILED: %d  patterns\n", failed)
	return 0
}

// validateLine validates one pattern as validate-patterns does and prints
// the result; false means the reference crashes on it.
func validateLine(e *env, w *bufio.Writer, sess *pattern.ValidationSession, line, version string, pass, failed *int) bool {
	msgs, crash := sess.Report(line, version)
	if crash != "" {
		w.Flush()
		fmt.Fprintf(e.stderr, "Traceback (most recent call last):\nAttributeError: %s\n", crash)
		return false
	}
	if len(msgs) == 0 {
		fmt.Fprintf(w, "\nPASS: %s\n", line)
		*pass++
		return true
	}
	for _, m := range msgs {
		fmt.Fprintf(w, "%s \n\n", m)
	}
	*failed++
	return true
}

// matchSpecs are stix2-matcher's options.
var matchSpecs = []optSpec{
	{"p", "patterns", true}, {"f", "file", true}, {"e", "encoding", true},
	{"s", "stix_version", true}, {"v", "verbose", false}, {"q", "quiet", false}, {"h", "help", false},
}

func patternMatch(ctx context.Context, e *env, args []string) int {
	const usage = "usage: jointcell pattern match [-h] -p PATTERNS -f FILE [-e ENCODING] [-s STIX_VERSION] [-v] [-q]"
	vals, counts, pos, err := parsePyArgs(args, matchSpecs)
	if err == nil && counts["help"] > 0 {
		fmt.Fprintln(e.stdout, usage)
		return 0
	}
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unrecognized arguments: %s", strings.Join(pos, " "))
	}
	if err == nil {
		var missing []string
		if _, ok := vals["patterns"]; !ok {
			missing = append(missing, "-p/--patterns")
		}
		if _, ok := vals["file"]; !ok {
			missing = append(missing, "-f/--file")
		}
		if len(missing) > 0 {
			err = fmt.Errorf("the following arguments are required: %s", strings.Join(missing, ", "))
		}
	}
	if err != nil {
		fmt.Fprintln(e.stderr, usage)
		fmt.Fprintf(e.stderr, "jointcell pattern match: error: %v\n", err)
		return 2
	}
	encoding := "utf8"
	if v, ok := vals["encoding"]; ok {
		encoding = v
	}
	version := pattern.Version20 // the reference's default
	if vals["stix_version"] == pattern.Version21 {
		version = pattern.Version21
	}
	quiet := counts["quiet"]

	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	matchErr := func(err error) int {
		w.Flush()
		fmt.Fprintf(e.stderr, "Traceback (most recent call last):\n%v\n", err)
		return 2
	}
	data, err := os.ReadFile(vals["file"])
	if err != nil {
		return matchErr(err)
	}
	text, bad, err := decodeText(data, encoding)
	if err != nil {
		return matchErr(err)
	}
	if bad >= 0 {
		return matchErr(errors.New("UnicodeDecodeError: the observed data file is not valid " + encoding))
	}
	pdata, err := os.ReadFile(vals["patterns"])
	if err != nil {
		return matchErr(err)
	}
	ptext, pbad, _ := decodeText(pdata, encoding)
	m, err := pattern.NewJSONMatcher([]byte(text), version)
	if err != nil {
		return matchErr(err)
	}
	status := 0
	for _, line := range pyLines(ptext, pbad) {
		if ctx.Err() != nil {
			return matchErr(ctx.Err())
		}
		p := pyStrip(line)
		if p == "" || p[0] == '#' {
			continue
		}
		ok, err := m.Match(p)
		if err != nil {
			return matchErr(err)
		}
		esc := pattern.PyUnicodeEscape(p)
		if ok {
			if quiet < 1 {
				fmt.Fprintf(w, "\nMATCH:  %s\n", esc)
			}
		} else {
			if quiet < 2 {
				fmt.Fprintf(w, "\nNO MATCH:  %s\n", esc)
			}
			status = 1
		}
	}
	if pbad >= 0 {
		return matchErr(errors.New("UnicodeDecodeError: the patterns file is not valid " + encoding))
	}
	return status
}

// pyStrip is Python's str.strip().
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f) || r == 0x85 || r == 0xa0 ||
			r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000
	})
}
