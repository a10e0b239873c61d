// Command detectgen writes benchmark data for bench/detect.sh: N STIX
// indicators (30% IPv4, 10% IPv6 CIDR, 25% domain, 15% URL, 20% SHA-256) as
// JSON lines, and M ECS events of which about 1% hit an indicator.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func pattern(i int) string {
	switch i % 20 {
	case 0, 1, 2, 3, 4, 5:
		return fmt.Sprintf("[ipv4-addr:value = '%d.%d.%d.%d']", 11+i%200, (i>>8)&255, (i>>16)&255, i&255)
	case 6, 7:
		return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x:%x::/64']", (i>>16)&0xffff, i&0xffff)
	case 8, 9, 10, 11, 12:
		return fmt.Sprintf("[domain-name:value = 'd%d.example.net']", i)
	case 13, 14, 15:
		return fmt.Sprintf("[url:value = 'http://u%d.example.org/x']", i)
	default:
		return fmt.Sprintf("[file:hashes.'SHA-256' = '%064x']", uint64(i)*0x9e3779b97f4a7c15)
	}
}

func main() {
	nInd := flag.Int("indicators", 1000000, "indicators to write")
	nEv := flag.Int("events", 10000000, "events to write")
	dir := flag.String("dir", ".", "output folder")
	flag.Parse()
	if err := write(filepath.Join(*dir, "indicators.jsonl"), func(w *bufio.Writer) {
		for i := 0; i < *nInd; i++ {
			fmt.Fprintf(w, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-%04x-4000-8000-000000000000","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":%q,"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`+"\n",
				i, i>>16&0xffff, pattern(i))
		}
	}); err != nil {
		fmt.Fprintln(os.Stderr, "detectgen:", err)
		os.Exit(1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	if err := write(filepath.Join(*dir, "events.jsonl"), func(w *bufio.Writer) {
		for k := 0; k < *nEv; k++ {
			i := r.IntN(*nInd)
			src := fmt.Sprintf("192.168.%d.%d", r.IntN(256), r.IntN(256))
			dst := fmt.Sprintf("172.%d.%d.%d", 16+r.IntN(16), r.IntN(256), r.IntN(256))
			dom := fmt.Sprintf("www%d.example.com", r.IntN(1000000))
			if r.IntN(100) == 0 {
				switch i % 20 {
				case 0, 1, 2, 3, 4, 5:
					dst = fmt.Sprintf("%d.%d.%d.%d", 11+i%200, (i>>8)&255, (i>>16)&255, i&255)
				case 8, 9, 10, 11, 12:
					dom = fmt.Sprintf("d%d.example.net", i)
				}
			}
			fmt.Fprintf(w, `{"@timestamp":"2025-01-01T00:00:%02d.%03dZ","source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":443},"network":{"transport":"tcp"},"url":{"full":"https://%s/index.html","domain":"%s"},"user_agent":{"original":"Mozilla/5.0"},"event":{"action":"connection"}}`+"\n",
				k%60, k%1000, src, 1024+r.IntN(60000), dst, dom, dom)
		}
	}); err != nil {
		fmt.Fprintln(os.Stderr, "detectgen:", err)
		os.Exit(1)
	}
}

func write(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
