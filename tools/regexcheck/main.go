// Command regexcheck is the reference for rrctl's portable regex dialect (tests/suite/regex_go.rs).
//
//	regexcheck SUBJECTS < PATTERNS
//
// Both files hold one Go-quoted string per line. For each pattern it prints one line: "err
// <reason>" when Go's regexp.Compile rejects it, else "ok " followed by one 0/1 per subject,
// whether the pattern matches it (MatchString). Only the standard library is used, so it builds
// without the network.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func readQuoted(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		s, err := strconv.Unquote(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: regexcheck SUBJECTS < PATTERNS")
		os.Exit(2)
	}
	subjects, err := readQuoted(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "regexcheck:", err)
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1024*1024), 1024*1024)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	line := 0
	for in.Scan() {
		line++
		pattern, err := strconv.Unquote(in.Text())
		if err != nil {
			fmt.Fprintf(os.Stderr, "regexcheck: stdin:%d: %v\n", line, err)
			os.Exit(2)
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			fmt.Fprintf(out, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		var bits strings.Builder
		for _, s := range subjects {
			if re.MatchString(s) {
				bits.WriteByte('1')
			} else {
				bits.WriteByte('0')
			}
		}
		fmt.Fprintf(out, "ok %s\n", bits.String())
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "regexcheck:", err)
		os.Exit(2)
	}
}
